"""Make the extension importable from the build tree without installing."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bindings", "python")
if BUILD not in sys.path:
    sys.path.insert(0, BUILD)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (skipped under valgrind)")
