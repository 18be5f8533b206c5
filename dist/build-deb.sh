#!/usr/bin/env bash
# Builds a Debian package of sluice with dpkg-deb (no debhelper needed):
#   /usr/bin/sluice, /lib/systemd/system/sluice.service, the docs and,
#   when the binary can write them, man pages; postinst creates the
#   system user "sluice" and /var/lib/sluice and starts the service where
#   systemd runs; purge removes both (docs/operations.md, "Packaging").
#
# Usage: dist/build-deb.sh [OUTDIR]      (default dist/out)
# Environment: VERSION (default from git describe), ARCH (a Debian
# architecture, default dpkg's), GO (default go).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist/out}
GO=${GO:-go}
arch=${ARCH:-$(dpkg --print-architecture)}
case "$arch" in
  amd64) goarch=amd64 ;;
  arm64) goarch=arm64 ;;
  armhf) goarch=arm; export GOARM=7 ;;
  i386) goarch=386 ;;
  riscv64) goarch=riscv64 ;;
  *) echo "build-deb: no Go architecture for Debian's $arch" >&2; exit 2 ;;
esac
if [ -z "${VERSION:-}" ]; then
  # Debian versions start with a digit: v1.2.3-4-gabc → 1.2.3+4.gabc,
  # no tag → 0.0.0+git.HASH.
  d=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
  case "$d" in
    v[0-9]*) VERSION=$(echo "${d#v}" | sed -E 's/-([0-9]+)-g/+\1.g/; s/-dirty$/+dirty/') ;;
    *) VERSION="0.0.0+git.${d//-/.}" ;;
  esac
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pkg="$root/pkg"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/usr/share/doc/sluice"

# A static binary with the VCS revision (for --version), whatever GOFLAGS
# says about buildvcs.
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch "$GO" build -trimpath -buildvcs=auto -ldflags="-s -w" \
  -o "$pkg/usr/bin/sluice" ./cmd/sluice
chmod 0755 "$pkg/usr/bin/sluice"
install -m 0644 dist/sluice.service "$pkg/lib/systemd/system/sluice.service"
install -m 0644 README.md docs/*.md "$pkg/usr/share/doc/sluice/"
cat > "$pkg/usr/share/doc/sluice/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sluice
Source: https://github.com/sluice/sluice
COPYRIGHT
# Man pages, when this build of sluice has "sluice man" (and only for the
# host architecture, where the binary runs).
if [ "$goarch" = "$("$GO" env GOHOSTARCH)" ] && "$pkg/usr/bin/sluice" man "$root/man" >/dev/null 2>&1; then
  install -d -m 0755 "$pkg/usr/share/man/man1"
  for m in "$root"/man/*.1; do
    gzip -9n < "$m" > "$pkg/usr/share/man/man1/$(basename "$m").gz"
  done
fi

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: sluice
Version: $VERSION
Architecture: $arch
Maintainer: sluice maintainers <sluice@localhost>
Installed-Size: $size
Depends: adduser
Section: net
Priority: optional
Homepage: https://github.com/sluice/sluice
Description: SFTP and legacy FTP file endpoint for devices
 sluice moves firmware, boot images and configuration onto a device and off
 it over SFTP (OpenSSH sftp and scp, WinSCP, rclone) and the device manual's
 legacy FTP. Uploads are staged in memory, checked and committed atomically.
 The service runs as the system user sluice with its data in /var/lib/sluice.
CONTROL

cat > "$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  # The home directory first, so that adduser finds it.
  install -d -m 0750 /var/lib/sluice
  if ! getent passwd sluice >/dev/null; then
    adduser --system --group --home /var/lib/sluice --no-create-home \
      --shell /usr/sbin/nologin --gecos "sluice file endpoint" sluice >/dev/null
  fi
  # Only the directory itself: an upgrade leaves what is inside as it is.
  chown sluice:sluice /var/lib/sluice
  if command -v systemctl >/dev/null 2>&1; then
    systemctl enable sluice.service >/dev/null 2>&1 || true
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ -n "$2" ]; then
      systemctl try-restart sluice.service
    else
      systemctl start sluice.service
    fi
  fi
fi
exit 0
POSTINST

cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop sluice.service || true
fi
exit 0
PRERM

cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
case "$1" in
  remove|purge)
    if [ -d /run/systemd/system ]; then
      systemctl daemon-reload || true
    fi
    ;;
esac
if [ "$1" = purge ]; then
  # The unit file is gone: remove what "systemctl enable" made by hand.
  rm -f /etc/systemd/system/multi-user.target.wants/sluice.service
  rm -rf /etc/systemd/system/sluice.service.d
  # The data directory holds the configuration, the host keys, the device
  # state and the file systems: purge means all of it.
  rm -rf /var/lib/sluice
  if getent passwd sluice >/dev/null; then
    deluser --system --quiet sluice >/dev/null 2>&1 || userdel sluice || true
  fi
  if getent group sluice >/dev/null; then
    delgroup --system --quiet sluice >/dev/null 2>&1 || groupdel sluice || true
  fi
fi
exit 0
POSTRM
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/sluice_${VERSION}_${arch}.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
echo "$deb"
