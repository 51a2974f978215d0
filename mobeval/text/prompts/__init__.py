"""Prompt templates: data files rendered into prompts."""

from mobeval.text.prompts.template import PromptTemplate, load_template, template_names

__all__ = ["PromptTemplate", "load_template", "template_names"]
