"""`when`-style matching shared by testcases (exclude, kconfig), expectations and references."""


def matches(fields, when):
    """Whether every key of `when` has that value in `fields`, compared as text (YAML's 64 and --axis's "64"
    alike); an empty `when` matches everything."""
    return all(str(fields.get(k)) == str(v) for k, v in when.items())
