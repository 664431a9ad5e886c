"""Make the learner edition of the solved notebook: solutions out, planted bugs back, answers hidden.

Usage: python -m assignment.make [SOLVED.ipynb] [OUT.ipynb]

The solved notebook must follow the contract below; anything else stops the build with a
message naming the cell, so that the two editions cannot silently drift apart.

- A graded cell starts with ``# GRADED FUNCTION: <name>`` and defines ``<name>``; its solution
  sits between ``# YOUR CODE STARTS HERE`` and ``# YOUR CODE ENDS HERE`` lines (one or more
  blocks). Each block becomes placeholders: ``name = None`` for every name it assigns.
- The bug-fix cell is the graded cell of BUG_FIX. Each line that fixes a planted bug ends with
  ``# was: <the buggy statement>``; the learner edition puts the buggy statement back.
- Cells tagged ``solution`` are removed (prose that names the bugs).
- Check cells call a ``*_test(`` function; their outputs, and those of graded cells, are cleared.
"""

import ast
import pathlib
import re
import shutil
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLVED = ROOT / "Gradient_Checking.ipynb"
LEARNER = ROOT / "build" / "Gradient_Checking_assignment.ipynb"
BUG_FIX = "backward_propagation_n_fixed"
GRADED = re.compile(r"# GRADED FUNCTION: (\w+)")
START, END = "# YOUR CODE STARTS HERE", "# YOUR CODE ENDS HERE"
WAS = re.compile(r"^(?P<indent>\s*)(?P<fixed>\S.*?)\s*# was: (?P<buggy>.+?)\s*$")
CHECK_CALL = re.compile(r"\b\w+_test\(")
SOLUTION_TAG = "solution"


class ContractError(ValueError):
    """The solved notebook does not follow the contract the learner edition is made by."""


def make_learner_edition(solved):
    """The learner edition of the solved notebook `solved` (an nbformat node; not modified).

    Returns
    -------
    nbformat.NotebookNode
        A new notebook: graded cells with placeholders (the bug-fix cell with its bugs),
        `solution` cells removed, outputs of graded and check cells cleared.
    """
    check_contract(solved)
    learner = nbformat.from_dict(solved)
    learner.cells = [cell for cell in learner.cells if SOLUTION_TAG not in cell.metadata.get("tags", [])]
    for cell in learner.cells:
        if cell.cell_type != "code":
            continue
        name = graded_name(cell.source)
        if name == BUG_FIX:
            cell.source = restore_bugs(cell.source)
        elif name is not None:
            cell.source = replace_solutions(cell.source)
        if name is not None or is_check_cell(cell.source):
            cell.outputs, cell.execution_count = [], None
    return learner


def check_contract(solved):
    """Raise ContractError, naming the cell, unless `solved` follows the contract of this module."""
    graded = {}
    for index, cell in enumerate(solved.cells):
        where = f"cell {index} of the solved notebook"
        if cell.cell_type != "code":
            continue
        name = graded_name(cell.source)
        has_was = any(WAS.match(line) for line in cell.source.splitlines())
        if name is None:
            if has_was or START in cell.source:
                raise ContractError(f"{where} has `# was:` comments or {START!r} but does not start with "
                                    "`# GRADED FUNCTION: <name>`")
            continue
        if name in graded:
            raise ContractError(f"{where}: `# GRADED FUNCTION: {name}` also heads cell {graded[name]}")
        graded[name] = index
        if not re.search(rf"^def {name}\(", cell.source, re.M):
            raise ContractError(f"{where} is headed `# GRADED FUNCTION: {name}` but does not define {name}()")
        if name == BUG_FIX:
            if not has_was:
                raise ContractError(f"{where}, the bug-fix exercise, has no line ending `# was: <buggy "
                                    "statement>`, so the learner edition cannot put the bugs back")
            _parse(restore_bugs(cell.source), f"{where} with its bugs restored")
            continue
        if has_was:
            raise ContractError(f"{where}: `# was:` comments belong only in the {BUG_FIX} cell")
        _solution_blocks(cell.source, where)  # raises on unpaired markers
        _parse(replace_solutions(cell.source), f"{where} with placeholders")
        _check_placeholders_are_safe(cell.source, f"{where} ({name})")
    if BUG_FIX not in graded:
        raise ContractError(f"the solved notebook has no cell starting `# GRADED FUNCTION: {BUG_FIX}`: the "
                            "bug-fix exercise needs one, its fixed lines ending `# was: <buggy statement>`")
    if not any(is_check_cell(cell.source) for cell in solved.cells if cell.cell_type == "code"):
        raise ContractError("the solved notebook has no check cell (a code cell calling a `*_test(`)")
    _check_fixes_are_hidden(solved, graded[BUG_FIX])


def graded_name(source):
    """The <name> of a cell starting `# GRADED FUNCTION: <name>`, else None."""
    match = GRADED.match(source.lstrip())
    return match.group(1) if match else None


def is_check_cell(source):
    """True for a code cell that calls a public test (`*_test(`)."""
    return bool(CHECK_CALL.search(source))


def replace_solutions(source):
    """`source` with each solution block between the markers replaced by placeholders.

    Every name the block assigns (plain names, also inside tuples; not subscripts, not `_`)
    becomes ``name = None``, in order of first assignment; a block that assigns no name
    becomes ``pass`` so that the code still parses (a loop body, say).
    """
    lines = source.splitlines()
    for start, end in reversed(_solution_blocks(source, "the cell")):
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        names = _assigned_names("\n".join(lines[start + 1:end]))
        lines[start + 1:end] = [f"{indent}{name} = None" for name in names] or [f"{indent}pass"]
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def restore_bugs(source):
    """`source` with each line ending `# was: <buggy>` replaced by <buggy>, at the same indentation."""
    lines = []
    for line in source.splitlines():
        match = WAS.match(line)
        lines.append(match["indent"] + match["buggy"] if match else line)
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def support_files(root=ROOT):
    """Files the notebook needs beside it: the local modules and packages it imports, and images/.

    Returns
    -------
    list of pathlib.Path
        Paths inside `root`: modules (``name.py``) and packages (``name/``) that the notebook
        imports, directly or through each other, then the images directory if it exists.
    """
    notebook = nbformat.read(root / SOLVED.name, as_version=4)
    pending = [_without_magics(cell.source) for cell in notebook.cells if cell.cell_type == "code"]
    found = []
    while pending:
        for module in _imported_modules(pending.pop()):
            for path in (root / f"{module}.py", root / module):
                if path in found or not (path.is_file() or (path / "__init__.py").is_file()):
                    continue
                found.append(path)
                pending += [file.read_text() for file in ([path] if path.is_file() else path.rglob("*.py"))]
    images = root / "images"
    return found + ([images] if images.is_dir() else [])


def copy_support_files(destination, root=ROOT):
    """Copy `support_files()` into the directory `destination` (created if needed).

    A module's data file, ``name.json`` beside ``name.py`` (public_tests.json: the public cases),
    ships with it.
    """
    destination = pathlib.Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for path in support_files(root):
        if path.is_dir():
            shutil.copytree(path, destination / path.name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            for file in (path, path.with_suffix(".json")):
                if file.is_file():
                    shutil.copy2(file, destination / file.name)


def main(argv=None):
    """Write the learner edition and the files it needs next to it; exit 1 on a contract breach."""
    argv = sys.argv[1:] if argv is None else argv
    solved_path = pathlib.Path(argv[0]) if argv else SOLVED
    out_path = pathlib.Path(argv[1]) if len(argv) > 1 else LEARNER
    try:
        learner = make_learner_edition(nbformat.read(solved_path, as_version=4))
    except ContractError as error:
        print(f"assignment: {solved_path} does not follow the contract: {error}", file=sys.stderr)
        return 1
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(learner, out_path)
    copy_support_files(out_path.parent)
    print(f"wrote {out_path} (and the modules and images it needs, beside it)")
    return 0


def _solution_blocks(source, where):
    """(start, end) line indices of each marker pair; raise ContractError on unpaired markers."""
    blocks, start = [], None
    for index, line in enumerate(source.splitlines()):
        if line.strip() == START:
            if start is not None:
                raise ContractError(f"{where}: {START!r} on line {index + 1} before the previous block ended")
            start = index
        elif line.strip() == END:
            if start is None:
                raise ContractError(f"{where}: {END!r} on line {index + 1} without {START!r}")
            blocks.append((start, index))
            start = None
    if start is not None:
        raise ContractError(f"{where}: {START!r} on line {start + 1} is never closed by {END!r}")
    if not blocks:
        raise ContractError(f"{where} is graded but has no {START!r} ... {END!r} block")
    return blocks


def _assigned_names(block):
    """Names assigned by the statements of `block` (dedented), in order of first assignment."""
    lines = [line for line in block.splitlines() if line.strip()]
    margin = min((len(line) - len(line.lstrip()) for line in lines), default=0)
    tree = ast.parse("\n".join(line[margin:] for line in lines))
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else []
        found += [(name.lineno, name.col_offset, name.id) for target in targets for name in _bound(target)
                  if name.id != "_"]
    names = []
    for _, _, name in sorted(found):
        if name not in names:
            names.append(name)
    return names


def _bound(target):
    """The ast.Name nodes an assignment target binds: itself, or inside tuples and lists; not subscripts."""
    if isinstance(target, ast.Name):
        return [target]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _bound(element)]
    if isinstance(target, ast.Starred):
        return _bound(target.value)
    return []


def _check_placeholders_are_safe(source, where):
    """Raise ContractError if code outside the solution blocks uses a name the placeholders set to None.

    Only ``return name`` may: anything else (``if difference < 1e-7:``) would raise TypeError in the
    learner edition before the check cell's test can say "not implemented yet".
    """
    lines = source.splitlines()
    blocks = _solution_blocks(source, where)
    placeholders = {name for start, end in blocks
                    for name in _assigned_names("\n".join(lines[start + 1:end]))}
    inside = {line for start, end in blocks for line in range(start + 1, end + 1)}  # 1-based, as ast
    tree = ast.parse(_without_magics(source))
    returned = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Return) and node.value}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in placeholders
                and node.lineno not in inside and id(node) not in returned):
            raise ContractError(
                f"{where}: line {node.lineno} `{lines[node.lineno - 1].strip()}` uses `{node.id}` after "
                f"{END!r}; the learner edition sets it to None there, so the cell would raise TypeError "
                f"before its test can say 'not implemented yet'. Move {END!r} below that code (it is then "
                "the learner's to write) or stop using the name there")


def _imported_modules(source):
    """Top-level module names imported by `source`."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module.split(".")[0])
    return modules


def _without_magics(source):
    """`source` with IPython magic and shell lines blanked (not removed, so line numbers hold)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _parse(source, where):
    """Raise ContractError if `source` (magics dropped) is not valid Python."""
    try:
        ast.parse(_without_magics(source))
    except SyntaxError as error:
        raise ContractError(f"{where} is not valid Python: {error}") from error


def _check_fixes_are_hidden(solved, bug_fix_index):
    """Raise ContractError if a kept markdown cell quotes a fixed or a buggy line of the bug-fix cell.

    Code cells are the lesson's own code (a later, correct backpropagation may share a line with
    the fix); prose that names the bugs or their fixes must be tagged `solution`.
    """
    fixes = [match[part].strip() for line in solved.cells[bug_fix_index].source.splitlines()
             if (match := WAS.match(line)) for part in ("fixed", "buggy")]
    for index, cell in enumerate(solved.cells):
        if cell.cell_type != "markdown" or SOLUTION_TAG in cell.metadata.get("tags", []):
            continue
        shown = {line.strip() for line in cell.source.splitlines()}
        shown |= {span.strip() for span in re.findall(r"`([^`]+)`", cell.source)}
        for fix in fixes:
            if fix in shown:
                raise ContractError(f"markdown cell {index} quotes `{fix}`, a line of the bug fix: tag it "
                                    f"{SOLUTION_TAG!r} so that the learner edition drops it")


if __name__ == "__main__":
    sys.exit(main())
