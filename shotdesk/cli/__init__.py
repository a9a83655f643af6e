"""The command line: ``shotdesk capture``, ``gallery``, ``devices``, ``key``, ``serve`` …"""
