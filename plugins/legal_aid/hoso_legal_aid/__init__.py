"""The legal-aid modules of the reference deployment (Vietnam's state legal aid system).

``hoso_legal_aid.demo`` loads demonstration data (``hoso demo``).
"""
