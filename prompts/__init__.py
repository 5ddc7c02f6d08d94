"""Every word the product says to a caller or an owner, or asks of a model: text files read as
package data by `receptionist.core.templates.Templates` (see README.md in this folder)."""
