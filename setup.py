"""Builds the two small C programs next to the Python package: the container monitor
(dockyard-shim) and the `--init` process (dockyard-init).

The monitor is one process per container that must outlive the daemon, so it is a C program
rather than a Python interpreter (a few hundred KB instead of ~10 MB each).
"""
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.dist import Distribution

PROGRAMS = {"dockyard-shim": os.path.join("src", "dockyard", "shim", "shim.c"),
            "dockyard-init": os.path.join("src", "dockyard", "shim", "init.c")}


class BuildShim(build_ext):
    def run(self) -> None:
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler

        compiler = new_compiler()
        customize_compiler(compiler)
        out_dir = os.path.join("src" if self.inplace else self.build_lib, "dockyard", "shim")
        os.makedirs(out_dir, exist_ok=True)
        for name, source in PROGRAMS.items():
            objects = compiler.compile([source], output_dir=self.build_temp,
                                       extra_preargs=["-O2", "-Wall", "-Wextra"])
            compiler.link_executable(objects, name, output_dir=out_dir,
                                     extra_postargs=["-static"] if name == "dockyard-init"
                                     else None,
                                     libraries=["z"] if name == "dockyard-shim" else None)

    def get_outputs(self) -> list[str]:
        return [os.path.join(self.build_lib, "dockyard", "shim", name) for name in PROGRAMS]


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_ext": BuildShim}, distclass=BinaryDistribution)
