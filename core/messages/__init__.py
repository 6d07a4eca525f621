"""Message catalogues, one module per language (vi, en), read through hoso.i18n."""
