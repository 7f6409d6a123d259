"""patrec.document_biometrics: documents, text and human signals methods of patrec.

Documents, text and people: offline signature verification, scene-text super-resolution, font
and glyph synthesis, legal-text recognition, facial-expression and micro-expression recognition,
face anti-spoofing, EEG emotion recognition, rPPG heart rate, speech-based depression
estimation, scanpaths and wearable activity recognition.

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
