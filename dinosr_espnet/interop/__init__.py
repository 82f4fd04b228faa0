"""fairseq checkpoint interoperability: restricted loading, config and key mapping, import/export.

Entry points: ``convert.import_fairseq`` / ``convert.export_fairseq`` (CLIs in
``dinosr_espnet.bin.import_fairseq`` / ``export_fairseq``); see docs/interop.md.
"""
