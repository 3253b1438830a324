"""Builds the C container monitor (dockyard-shim) next to the Python package.

The monitor is one small process per container that must outlive the daemon, so it is a
C program rather than a Python interpreter (a few hundred KB instead of ~10 MB each).
"""
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.dist import Distribution

SHIM_SOURCE = os.path.join("src", "dockyard", "shim", "shim.c")


class BuildShim(build_ext):
    def run(self) -> None:
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler

        compiler = new_compiler()
        customize_compiler(compiler)
        out_dir = os.path.join("src" if self.inplace else self.build_lib, "dockyard", "shim")
        os.makedirs(out_dir, exist_ok=True)
        objects = compiler.compile([SHIM_SOURCE], output_dir=self.build_temp,
                                   extra_preargs=["-O2", "-Wall", "-Wextra"])
        compiler.link_executable(objects, "dockyard-shim", output_dir=out_dir)

    def get_outputs(self) -> list[str]:
        return [os.path.join(self.build_lib, "dockyard", "shim", "dockyard-shim")]


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_ext": BuildShim}, distclass=BinaryDistribution)
