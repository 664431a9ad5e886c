"""The learner edition of the notebook (`make assignment`) and its grader (`make grade`)."""
