"""Pre-labelling a whole project with a model (`annotator label`): proposals, resumable, on all cores."""
