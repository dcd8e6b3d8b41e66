"""The package version is libvtc's: include/vtc.h's VTC_VERSION, read here at
build time (pip builds in the source tree, so ../include is at hand); at run
time vtc.__version__ is the loaded library's vtc_version()."""
import os
import re

from setuptools import setup

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "include", "vtc.h")
with open(HEADER) as f:
    VERSION = re.search(r'^#define VTC_VERSION "([^"]+)"', f.read(), re.M).group(1)

setup(version=VERSION)
