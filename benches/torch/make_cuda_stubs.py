"""Build tiny stand-in .so files for the CUDA libraries PyPI's torch wheel links against.

Why: PyPI's linux x86_64 `torch` is the CUDA build. Even libtorch_cpu.so has DT_NEEDED
entries for libcudart/libcupti, so `pip install --no-deps torch` fails at `import torch`
(libcudart.so.13 not found), and the real nvidia-* wheels are ~2.5 GB. The pytorch.org
CPU index is not reachable here. CPU kernels never call into these libraries, so we give
the dynamic linker one stub per missing SONAME that defines every symbol torch imports:
functions return 100 (cudaErrorNoDevice, so torch sees 0 GPUs), *String/*Name functions
return a static string, data symbols are zeroed buffers. Put OUT_DIR on LD_LIBRARY_PATH.

usage: python make_cuda_stubs.py TORCH_LIB_DIR OUT_DIR
"""
import collections, os, re, subprocess, sys, tempfile

lib_dir, out_dir = sys.argv[1], sys.argv[2]
# Libraries loaded by `import torch` (libtorch_cuda_linalg/libcaffe2_nvrtc are dlopen'ed lazily).
LOADED = ["libc10.so", "libc10_cuda.so", "libtorch.so", "libtorch_cpu.so", "libtorch_cuda.so",
          "libtorch_python.so", "libtorch_global_deps.so", "libtorch_nvshmem.so", "libshm.so"]
# Version tag of a symbol -> SONAME of the library that provides it.
TAG_TO_SONAME = {"NVSHMEM": "libnvshmem_host.so.3"}
# These libraries export unversioned symbols; the rest of torch's unversioned imports
# (Py*, some libstdc++) come from python / the system and must not be stubbed.
PREFIX_TO_SONAME = {"nccl": "libnccl.so.2", "cusparseLt": "libcusparseLt.so.0",
                    "cuFile": "libcufile.so.0"}


def dynsyms(path):
    out = subprocess.run(["readelf", "-W", "--dyn-syms", path], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():  # Num: Value Size Type Bind Vis Ndx Name[@version]
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and f[0][:-1].isdigit():
            name, _, ver = f[7].partition("@")
            yield name, ver.split()[0] if ver else "", f[3], f[4], f[6]


def needed(path):
    out = subprocess.run(["readelf", "-d", path], check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\).*\[(.+)\]", out)


paths = [os.path.join(lib_dir, l) for l in LOADED]
sonames = {n for p in paths for n in needed(p)}
missing = {n for n in sonames if not os.path.exists(os.path.join(lib_dir, n))
           and re.match(r"lib(cu|nccl|nvrtc|nvshmem)", n)}
defined = {s[0] for p in paths for s in dynsyms(p) if s[4] != "UND"}
wanted = collections.defaultdict(dict)  # soname -> {symbol: type}
for p in paths:
    for name, ver, typ, bind, ndx in dynsyms(p):
        if ndx != "UND" or bind == "WEAK" or name in defined:
            continue
        soname = TAG_TO_SONAME.get(ver, ver) or next(
            (so for pre, so in PREFIX_TO_SONAME.items() if name.startswith(pre)), None)
        if soname in missing:
            wanted[soname][name] = typ

os.makedirs(out_dir, exist_ok=True)
for soname in sorted(missing):
    syms = wanted.get(soname, {})
    tag = next((t for t, s in TAG_TO_SONAME.items() if s == soname), soname)
    with tempfile.TemporaryDirectory() as tmp:
        c, vs = os.path.join(tmp, "stub.c"), os.path.join(tmp, "stub.map")
        with open(c, "w") as f:
            for s, typ in sorted(syms.items()):
                if typ == "OBJECT":
                    f.write(f"char {s}[256];\n")
                elif re.search(r"(String|Name)$", s):
                    f.write(f'const char *{s}(void) {{ return "CUDA stub (CPU-only torch)"; }}\n')
                else:
                    f.write(f"long {s}(void) {{ return 100; }}\n")
        with open(vs, "w") as f:
            f.write(f"{tag} {{ global: {' '.join(s + ';' for s in sorted(syms))} }};\n" if syms
                    else f"{tag} {{ }};\n")
        subprocess.run(["cc", "-shared", "-fPIC", "-O0", "-w", "-fno-builtin", c, "-o",
                        os.path.join(out_dir, soname), f"-Wl,-soname,{soname}",
                        f"-Wl,--version-script,{vs}"], check=True)
    print(f"stub {soname}: {len(syms)} symbols")
