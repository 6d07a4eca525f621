"""Built-in plugins: hoso's default behaviour, each replaceable or extendable by a deployment's plugin."""
