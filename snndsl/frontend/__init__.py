"""The front end: ``.snn`` text to a syntax tree.

``parse.parse(text, filename)`` returns an :class:`ast.File`; the grammar is
``grammars/snn.lark`` (loaded by ``grammar.py``). Expressions stay unevaluated until
the ``build`` pass evaluates them (``evaluate.py``) and checks the program.
"""
