"""Multiple-choice questions: the text track's task kind."""
