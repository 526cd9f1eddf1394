"""An application whose import always fails: workers die while booting (crash loop)."""

raise RuntimeError("this module cannot be imported")
