"""The docker CLI's output machinery, one module per job, each imported only by the
commands that print with it: tabwriter (tables), govalue (Go's value printing), parse,
funcs and template (the Go template engine for --format), lists (list output)."""
