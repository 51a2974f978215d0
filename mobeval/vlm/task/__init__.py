"""Image questions for vision-language models: multiple choice under orderings, or open answers."""
