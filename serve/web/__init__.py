"""The investigators' workspace: server-rendered pages under ``/ui`` (CONTRACT.md section 4)."""

from serve.web.pages import create_web_app, install

__all__ = ["create_web_app", "install"]
