"""Runs inside the TRAINER's Python (not loragate's) and prints what that environment holds.

Started by loragate.environment.probe as `python probe_script.py '<json request>'`. Standard
library only, no loragate imports, syntax that Python 3.8 accepts: the trainer's venv may be
older than loragate's and has none of loragate's packages. The answer is one JSON line on stdout
after a marker; anything the imported packages print goes to stderr.
"""

import contextlib
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
import warnings

MARKER = "LORAGATE-PROBE-JSON:"


def _drop_own_folder():
    """Run as a script, this file's folder is sys.path[0]; its sibling modules (gpu.py,
    trainer.py...) must not shadow anything the trainer's packages import."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]


def _error(exc):
    """The last line of an exception, the one a person can act on."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:400]


def _dist_version(name):
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8 has no importlib.metadata
        return None
    try:
        return metadata.version(name)
    except Exception:
        return None


def probe_torch():
    info = {"installed": False}
    start = time.time()
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken torch is a finding, not a crash
        info["error"] = _error(exc)
        return info
    info["installed"] = True
    info["import_seconds"] = round(time.time() - start, 3)
    info["version"] = str(getattr(torch, "__version__", ""))
    version = getattr(torch, "version", None)
    info["cuda_build"] = getattr(version, "cuda", None)
    info["hip_build"] = getattr(version, "hip", None)
    try:
        info["arch_list"] = [str(a) for a in torch.cuda.get_arch_list()]
    except Exception as exc:  # noqa: BLE001
        info["arch_list"] = []
        info["arch_error"] = _error(exc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            info["cuda_available"] = bool(torch.cuda.is_available())
        except Exception as exc:  # noqa: BLE001
            info["cuda_available"] = False
            info["cuda_error"] = _error(exc)
    # torch says why CUDA is unusable (driver too old, no device) only as a warning.
    info["warnings"] = [str(w.message).strip()[:400] for w in caught][:5]
    try:
        info["cudnn_version"] = torch.backends.cudnn.version()
    except Exception:  # noqa: BLE001
        info["cudnn_version"] = None
    devices = []
    if info["cuda_available"]:
        try:
            for index in range(torch.cuda.device_count()):
                major, minor = torch.cuda.get_device_capability(index)
                devices.append({"index": index, "name": str(torch.cuda.get_device_name(index)), "capability": [int(major), int(minor)]})
        except Exception as exc:  # noqa: BLE001
            info["device_error"] = _error(exc)
        try:
            info["bf16_supported"] = bool(torch.cuda.is_bf16_supported())
        except Exception:  # noqa: BLE001
            info["bf16_supported"] = None
    info["devices"] = devices
    return info


def probe_imports(modules):
    results = {}
    for name in modules:
        start = time.time()
        try:
            importlib.import_module(name)
            results[name] = {"ok": True, "seconds": round(time.time() - start, 3)}
        except Exception as exc:  # noqa: BLE001 - report every failure the same way
            results[name] = {"ok": False, "error": _error(exc)}
    return results


def probe_finds(modules):
    found = {}
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # noqa: BLE001 - a parent package that fails to import
            spec = None
        if spec is None:
            found[name] = None
            continue
        locations = list(spec.submodule_search_locations or [])
        found[name] = spec.origin if spec.origin and spec.origin != "namespace" else (locations[0] if locations else "")
    return found


def _accelerate_config_path():
    """Where `accelerate launch` looks for its default config (accelerate commands/config/config_args.py)."""
    try:
        from accelerate.commands.config.config_args import default_config_file

        return str(default_config_file)
    except Exception:  # noqa: BLE001 - same rule as accelerate, without accelerate
        home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
        folder = os.path.join(os.path.expanduser(home), "accelerate")
        yaml_file = os.path.join(folder, "default_config.yaml")
        json_file = os.path.join(folder, "default_config.json")
        if os.path.isfile(yaml_file) or not os.path.isfile(json_file):
            return yaml_file
        return json_file


def _scalar(value):
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~", ""):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value.strip("'\"")


def _flat_yaml(text):
    """The top-level `key: value` lines of accelerate's config, for an interpreter without PyYAML
    (accelerate itself needs PyYAML, so this only serves a trainer venv that is already broken)."""
    values = {}
    for line in text.splitlines():
        if not line or line[0] in " \t#-":
            continue
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = _scalar(value.split(" #", 1)[0].strip())
    return values


def probe_accelerate_config():
    path = _accelerate_config_path()
    info = {"path": path, "exists": os.path.isfile(path), "values": {}}
    if not info["exists"]:
        return info
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith(".json"):
            values = json.loads(text)
        else:
            try:
                import yaml  # accelerate depends on PyYAML
            except ImportError:
                values = _flat_yaml(text)
            else:
                values = yaml.safe_load(text)
        if not isinstance(values, dict):
            raise ValueError("the file does not hold a mapping")
        keep = ("compute_environment", "distributed_type", "mixed_precision", "num_processes", "num_machines", "gpu_ids", "use_cpu", "main_training_function")
        info["values"] = {k: values[k] for k in keep if k in values}
    except Exception as exc:  # noqa: BLE001
        info["error"] = _error(exc)
    return info


def marker_environment():
    """The PEP 508 marker values, so requirement lines with markers are judged for this Python."""
    return {
        "python_version": "%d.%d" % sys.version_info[:2],
        "python_full_version": platform.python_version(),
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "os_name": os.name,
        "implementation_name": sys.implementation.name,
        "platform_python_implementation": platform.python_implementation(),
    }


def main(argv):
    request = json.loads(argv[1]) if len(argv) > 1 else {}
    answer = {
        "python": {
            "executable": sys.executable,
            "version": platform.python_version(),
            "prefix": sys.prefix,
            "in_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        },
        "markers": marker_environment(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    # Packages that print banners on import must not corrupt the answer on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        answer["torch"] = probe_torch()
        answer["dists"] = {name: _dist_version(name) for name in request.get("dists", [])}
        answer["imports"] = probe_imports(request.get("imports", []))
        answer["finds"] = probe_finds(request.get("finds", []))
        answer["accelerate_config"] = probe_accelerate_config()
    sys.stdout.write(MARKER + json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    _drop_own_folder()
    sys.exit(main(sys.argv))
