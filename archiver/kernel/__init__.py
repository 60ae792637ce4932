"""The kernel: typed records, errors, text conversion, HTTP, dates, coercion and display
helpers. Pure helpers every layer may use; it imports no other layer."""
