"""Draw the notebook's schematic figures into this folder: run ``python images/make_figures.py``."""

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon

# No window: figures are only written to files. Allowed here, as no figure exists yet.
matplotlib.use("Agg")

OUT_DIR = Path(__file__).resolve().parent
DPI = 120
# The course's N-D network: n_x = 4 inputs, then 5, 3 and 1 units.
LAYER_DIMS = (4, 5, 3, 1)

FORWARD = "#1f5fa8"
BACKWARD = "#c0392b"
INK = "#222222"
BOX_FILL = "#eef3fa"
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2")


def one_d_model(path):
    """The 1-D model J(theta) = theta * x as a computation graph."""
    fig, ax = _canvas(8.0, 3.0)
    x_in, x_op, x_out = 1.4, 4.0, 6.6
    y_mid = 1.45
    _circle(ax, (x_in, y_mid + 0.42), 0.3, "$x$")
    _circle(ax, (x_in, y_mid - 0.42), 0.3, r"$\theta$")
    _box(ax, (x_op, y_mid), 1.7, 0.8, r"$J = \theta x$", fontsize=15)
    _circle(ax, (x_out, y_mid), 0.33, "$J$")
    ax.text(x_out + 0.45, y_mid, "cost", ha="left", va="center", fontsize=11, color=INK)
    for y in (y_mid + 0.42, y_mid - 0.42):
        _arrow(ax, (x_in + 0.3, y), (x_op - 0.85, y_mid + 0.5 * (y - y_mid)), INK)
    _arrow(ax, (x_op + 0.85, y_mid), (x_out - 0.33, y_mid), INK)

    left, right = 0.8, 7.2
    _arrow(ax, (left, 2.5), (right, 2.5), FORWARD, width=2.2)
    ax.text(4.0, 2.62, r"forward propagation: $J(\theta) = \theta x$",
            ha="center", va="bottom", fontsize=13, color=FORWARD)
    _arrow(ax, (right, 0.42), (left, 0.42), BACKWARD, width=2.2)
    ax.text(4.0, 0.3, r"backward propagation: $dJ/d\theta = x$",
            ha="center", va="top", fontsize=13, color=BACKWARD)
    _save(fig, path)


def nd_model(path):
    """The 3-layer network LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID and its cost."""
    L = len(LAYER_DIMS) - 1
    fig, ax = _canvas(9.95, 3.6, bottom=0.3)
    y_block, h_block, w_block = 2.3, 0.62, 0.98
    step = 1.27
    x = 0.65
    _box(ax, (x, y_block), 0.8, h_block, f"$X$\n({LAYER_DIMS[0]}, m)", fontsize=11)
    previous_right = x + 0.4
    for l in range(1, L + 1):
        x_linear, x_act = x + step, x + 2 * step
        # Shaded band grouping one layer's LINEAR and activation blocks.
        band = FancyBboxPatch((x_linear - w_block / 2 - 0.1, y_block - h_block / 2 - 0.12),
                              x_act - x_linear + w_block + 0.2, h_block + 0.62,
                              boxstyle="round,pad=0,rounding_size=0.08",
                              facecolor="#f4f4f4", edgecolor="#bbbbbb", linewidth=0.8)
        ax.add_patch(band)
        units = "unit" if LAYER_DIMS[l] == 1 else "units"
        ax.text((x_linear + x_act) / 2, y_block + h_block / 2 + 0.25,
                f"layer {l}: {LAYER_DIMS[l]} {units}", ha="center", va="center",
                fontsize=10.5, color=INK)
        _box(ax, (x_linear, y_block), w_block, h_block, "LINEAR", fontsize=10.5)
        _box(ax, (x_act, y_block), w_block, h_block, "SIGMOID" if l == L else "RELU",
             fontsize=10.5)
        _arrow(ax, (previous_right, y_block), (x_linear - w_block / 2, y_block), FORWARD)
        _arrow(ax, (x_linear + w_block / 2, y_block), (x_act - w_block / 2, y_block), FORWARD)
        previous_right = x_act + w_block / 2
        shape_w, shape_b = (LAYER_DIMS[l], LAYER_DIMS[l - 1]), (LAYER_DIMS[l], 1)
        ax.text(x_linear, 1.66, f"W{l} {shape_w}\nb{l} {shape_b}", ha="center", va="top",
                fontsize=10, color=INK, linespacing=1.35, family="monospace")
        ax.text(x_linear, 0.86, f"dW{l}, db{l}", ha="center", va="bottom",
                fontsize=10, color=BACKWARD, family="monospace")
        x = x_act
    x_cost = x + step * 0.85
    _circle(ax, (x_cost, y_block), 0.3, "$J$")
    ax.text(x_cost, y_block - 0.42, "cost", ha="center", va="top", fontsize=10.5, color=INK)
    _arrow(ax, (previous_right, y_block), (x_cost - 0.3, y_block), FORWARD)

    left, right = 0.3, x_cost + 0.3
    _arrow(ax, (left, 3.42), (right, 3.42), FORWARD, width=2.0)
    ax.text((left + right) / 2, 3.52, "forward propagation: activations, then the cost J",
            ha="center", va="bottom", fontsize=11.5, color=FORWARD)
    _arrow(ax, (right, 0.72), (left, 0.72), BACKWARD, width=2.0)
    ax.text((left + right) / 2, 0.58, "backward propagation: the gradients dW, db of the cost",
            ha="center", va="top", fontsize=11.5, color=BACKWARD)
    _save(fig, path)


def dictionary_to_vector_figure(path):
    """Each parameter array flattened, in order, into one segment of theta."""
    shapes = _parameter_shapes(LAYER_DIMS)
    sizes = [int(np.prod(shape)) for shape in shapes.values()]
    ends = np.cumsum(sizes)
    n = int(ends[-1])

    fig, ax = _canvas(7.3, 7.8)
    cell_v = 0.12  # height of one theta entry
    v_left, v_width = 5.2, 0.42
    v_top = 6.6
    cell_m = 0.22  # side of one matrix entry
    m_right = 2.55
    gap = 0.22
    stack = sum(shape[0] for shape in shapes.values()) * cell_m + gap * (len(shapes) - 1)
    # Centre the stack of matrices on the vector.
    m_top = v_top - n * cell_v / 2 + stack / 2

    _arrow(ax, (m_right - 0.4, 7.3), (v_left + 0.4, 7.3), FORWARD, width=1.8)
    ax.text((m_right + v_left) / 2, 7.4, "dictionary_to_vector(parameters)",
            ha="center", va="bottom", fontsize=11.5, color=FORWARD)
    ax.text(m_right - 0.6, v_top + 0.22, "parameters (dict)", ha="center", va="bottom",
            fontsize=11.5, color=INK)
    ax.text(v_left + v_width / 2, v_top + 0.22, rf"$\theta$, shape ({n}, 1)", ha="center",
            va="bottom", fontsize=11.5, color=INK)

    y = m_top
    for k, ((name, shape), size, end) in enumerate(zip(shapes.items(), sizes, ends,
                                                       strict=True)):
        start, color = end - size, PALETTE[k % len(PALETTE)]
        rows, cols = shape
        m_left = m_right - cols * cell_m
        # The matrix, each entry numbered with its index in theta (row-major order).
        for i in range(rows):
            for j in range(cols):
                cy = y - (i + 0.5) * cell_m
                cx = m_left + (j + 0.5) * cell_m
                ax.add_patch(plt.Rectangle((cx - cell_m / 2, cy - cell_m / 2), cell_m, cell_m,
                                           facecolor=_tint(color, 0.55), edgecolor="white",
                                           linewidth=0.8))
                ax.text(cx, cy, str(start + i * cols + j), ha="center", va="center",
                        fontsize=6.5, color=INK)
        ax.text(m_left - 0.12, y - rows * cell_m / 2, f"{name} {shape}", ha="right",
                va="center", fontsize=10.5, family="monospace", color=INK)
        # The segment of theta, and a band joining it to its source.
        s_top, s_bottom = v_top - start * cell_v, v_top - end * cell_v
        for k in range(size):
            ax.add_patch(plt.Rectangle((v_left, s_top - (k + 1) * cell_v), v_width, cell_v,
                                       facecolor=_tint(color, 0.55), edgecolor="white",
                                       linewidth=0.5))
        ax.add_patch(plt.Rectangle((v_left, s_bottom), v_width, s_top - s_bottom,
                                   facecolor="none", edgecolor=color, linewidth=1.2))
        ax.add_patch(Polygon([(m_right + 0.06, y), (v_left - 0.06, s_top),
                              (v_left - 0.06, s_bottom), (m_right + 0.06, y - rows * cell_m)],
                             closed=True, facecolor=_tint(color, 0.8), edgecolor="none"))
        index_range = f"{start}" if size == 1 else f"{start}\u2013{end - 1}"
        ax.text(v_left + v_width + 0.15, (s_top + s_bottom) / 2, f"{index_range:>5}  {name}",
                ha="left", va="center", fontsize=10.5, family="monospace", color=INK)
        y -= rows * cell_m + gap

    ax.text(m_right - 0.6, m_top - stack - 0.2,
            "numbers: index in $\\theta$ (row-major,\nlike reshape(-1, 1))", ha="center",
            va="top", fontsize=9.5, color="#555555")
    y_arrow = v_top - n * cell_v - 0.4
    _arrow(ax, (v_left + 0.4, y_arrow), (m_right - 0.4, y_arrow), BACKWARD, width=1.8)
    ax.text((m_right + v_left) / 2, y_arrow - 0.12,
            "vector_to_dictionary($\\theta$, parameters): the exact inverse",
            ha="center", va="top", fontsize=11.5, color=BACKWARD)
    _save(fig, path)


def _parameter_shapes(layer_dims):
    """Shapes of W1, b1, ..., WL, bL in the order the network's dict holds them."""
    shapes = {}
    for l in range(1, len(layer_dims)):
        shapes[f"W{l}"] = (layer_dims[l], layer_dims[l - 1])
        shapes[f"b{l}"] = (layer_dims[l], 1)
    return shapes


def _canvas(width, height, bottom=0.0):
    """A figure whose axes span it exactly, in inch units from `bottom` up, without ticks."""
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(bottom, bottom + height)
    ax.set_axis_off()
    return fig, ax


def _box(ax, center, width, height, text, fontsize=12):
    """A rounded block with centred text."""
    x, y = center
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0,rounding_size=0.08",
                                facecolor=BOX_FILL, edgecolor=FORWARD, linewidth=1.3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK)


def _circle(ax, center, radius, text):
    """A round node (an input or the cost)."""
    ax.add_patch(Circle(center, radius, facecolor="white", edgecolor=INK, linewidth=1.3))
    ax.text(*center, text, ha="center", va="center", fontsize=15, color=INK)


def _arrow(ax, start, end, color, width=1.4):
    """A straight arrow from `start` to `end`."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                 color=color, linewidth=width, shrinkA=0, shrinkB=0))


def _tint(color, amount):
    """Mix `color` with white; amount 0 keeps it, 1 gives white."""
    rgb = np.array(matplotlib.colors.to_rgb(color))
    return tuple(rgb + (1 - rgb) * amount)


def _save(fig, path):
    """Write a PNG whose bytes depend only on the drawing (no software/version tag)."""
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def main():
    """Draw every figure into this script's folder."""
    one_d_model(OUT_DIR / "one_d_model.png")
    nd_model(OUT_DIR / "nd_model.png")
    dictionary_to_vector_figure(OUT_DIR / "dictionary_to_vector.png")


if __name__ == "__main__":
    main()
