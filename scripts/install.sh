#!/usr/bin/env bash
# Install berth as a service on Debian/Ubuntu (run as root): Node.js 20 if missing
# or older, the Docker engine for agents, the berth package, its systemd unit and
# its environment file; then enable and start the unit when systemd runs.
# Idempotent: run it again to upgrade or change settings; it restarts the unit only
# when something changed (an agent restart leaves the pods running).
#
# Usage: scripts/install.sh controller|agent [options]
#   --package FILE        install this tarball (made by `npm pack`)
#   --version VERSION     else install berth@VERSION from the npm registry (default: the latest)
#   --prefix DIR          install under DIR (default /usr/local): DIR/bin/berth
#   --server URL          agent: the controller's URL            (BERTH_SERVER; repeat for each controller)
#   --token TOKEN         agent: the join token                  (BERTH_JOIN_TOKEN)
#   --ca-hash sha256:HEX  agent: the controller's CA hash        (BERTH_CA_HASH)
#   --join "COMMAND"      agent: the line in the controller's <data-dir>/join-command,
#                         instead of --server/--token/--ca-hash
#   --args "FLAGS"        extra flags for `berth agent` or `berth controller up`
#                         (BERTH_AGENT_ARGS / BERTH_CONTROLLER_ARGS)
#   --no-start            install only; do not enable or start the unit
#   --skip-node           do not check or install Node.js
#   --skip-docker         agent: do not check or install the Docker engine and catatonit
#   -h, --help
# Environment: BERTH_UNIT_DIR (default /etc/systemd/system) and BERTH_DEFAULT_DIR
# (default /etc/default) say where the unit and the environment file go.
set -euo pipefail

LOG_PREFIX=install
log() { printf '%s: %s\n' "$LOG_PREFIX" "$*"; }
die() { printf '%s: error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

NODE_MAJOR=20
NODE_MIN=20.19.0
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNIT_DIR=${BERTH_UNIT_DIR:-/etc/systemd/system}
DEFAULT_DIR=${BERTH_DEFAULT_DIR:-/etc/default}

role=''
package=''
version=''
prefix=/usr/local
server='' token='' ca_hash='' join='' args='' args_set=0
start=1 skip_node=0 skip_docker=0

while [ $# -gt 0 ]; do
  case $1 in
    controller | agent) [ -z "$role" ] || die "role given twice"; role=$1 ;;
    --package) package=${2:?--package needs a file}; shift ;;
    --version) version=${2:?--version needs a version}; shift ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
    --server) server=${server:+$server,}${2:?--server needs a URL}; shift ;;
    --token) token=${2:?--token needs a token}; shift ;;
    --ca-hash) ca_hash=${2:?--ca-hash needs sha256:HEX}; shift ;;
    --join) join=${2:?--join needs the join command}; shift ;;
    --args) args=${2-}; args_set=1; shift ;;
    --no-start) start=0 ;;
    --skip-node) skip_node=1 ;;
    --skip-docker) skip_docker=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[ -n "$role" ] || die "say which role: controller or agent (see --help)"
[ -z "$package" ] || [ -z "$version" ] || die "--package and --version exclude each other"
[ -z "$package" ] || [ -f "$package" ] || die "--package $package: no such file"
[ -n "$package" ] && package=$(cd "$(dirname "$package")" && pwd)/$(basename "$package")
prefix=${prefix%/}
[ "$(id -u)" = 0 ] || [ -n "${BERTH_INSTALL_NONROOT:-}" ] || die "must run as root"

unit=berth-$role
changed=0 # set when the unit must be (re)started to pick something up

# The words of a join command: `berth agent --server URL --token T --ca-hash H`, with one
# --server per controller when there are several (they become one comma list).
if [ -n "$join" ]; then
  [ "$role" = agent ] || die "--join is for agents"
  read -r -a words <<<"$join"
  server=''
  for ((i = 0; i < ${#words[@]}; i++)); do
    w=${words[i]} next=${words[i + 1]-}
    case $w in
      --server) server=${server:+$server,}$next ;;
      --server=*) server=${server:+$server,}${w#*=} ;;
      --token) token=$next ;;
      --token=*) token=${w#*=} ;;
      --ca-hash) ca_hash=$next ;;
      --ca-hash=*) ca_hash=${w#*=} ;;
    esac
  done
  [ -n "$server" ] || die "--join: no --server in \"$join\""
fi

# --- Node.js ------------------------------------------------------------------
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

install_node() {
  local arch tmp base sums
  case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "no Node.js $NODE_MAJOR build for $(uname -m); install Node.js >= $NODE_MIN by hand" ;;
  esac
  command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl ca-certificates xz-utils; }
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  base=https://nodejs.org/dist/latest-v$NODE_MAJOR.x
  curl -fsSL "$base/SHASUMS256.txt" -o "$tmp/SHASUMS256.txt"
  sums=$(grep -E " node-v[0-9.]+-linux-$arch\.tar\.xz\$" "$tmp/SHASUMS256.txt") || die "no linux-$arch tarball in $base/SHASUMS256.txt"
  local file=${sums##* }
  log "downloading $base/$file"
  curl -fsSL "$base/$file" -o "$tmp/$file"
  (cd "$tmp" && printf '%s\n' "$sums" | sha256sum -c --quiet -) || die "checksum of $file does not match"
  mkdir -p "$prefix/lib/nodejs"
  rm -rf "$prefix/lib/nodejs/${file%.tar.xz}"
  tar -xJf "$tmp/$file" -C "$prefix/lib/nodejs"
  for b in node npm npx corepack; do
    ln -sfn "$prefix/lib/nodejs/${file%.tar.xz}/bin/$b" "$prefix/bin/$b"
  done
  log "installed ${file%.tar.xz} under $prefix/lib/nodejs"
}

mkdir -p "$prefix/bin"
export PATH="$prefix/bin:$PATH"
if [ $skip_node = 0 ]; then
  have=$(node --version 2>/dev/null | sed 's/^v//' || true)
  if [ -z "$have" ] || ! version_ge "$have" "$NODE_MIN"; then
    log "Node.js ${have:-missing}, need >= $NODE_MIN"
    install_node
  else
    log "Node.js $have present"
  fi
fi

# --- Docker engine (agents) ------------------------------------------------------
if [ "$role" = agent ] && [ $skip_docker = 0 ]; then
  if command -v docker >/dev/null && command -v dockerd >/dev/null; then
    log "Docker engine installed"
  else
    log "installing docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io
    changed=1
  fi
  # The agent builds the pods' pause image from it (berth agent --pause-binary).
  if [ -x /usr/bin/catatonit ]; then
    log "catatonit installed"
  else
    log "installing catatonit"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends catatonit
    changed=1
  fi
fi

# --- the berth package -----------------------------------------------------------
pkgdir=$prefix/lib/node_modules/berth
stamp=$pkgdir/.berth-installed-from
installed=''
if [ -f "$pkgdir/package.json" ]; then
  installed=$(node -p "require('$pkgdir/package.json').version" 2>/dev/null || true)
fi
if [ -n "$package" ]; then
  want="sha256:$(sha256sum "$package" | cut -d' ' -f1)"
  spec=$package
else
  if [ -z "$version" ]; then
    version=$(npm view berth version) || die "cannot ask the npm registry for berth's latest version"
  fi
  want="registry:$version"
  spec=berth@$version
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$prefix/bin/berth" ]; then
  log "berth $installed already installed from ${package:-the npm registry} in $pkgdir"
else
  log "installing $spec into $prefix (was: ${installed:-not installed})"
  npm install --global --prefix "$prefix" --no-audit --no-fund --loglevel=error "$spec"
  printf '%s\n' "$want" >"$stamp"
  changed=1
  log "berth $(node -p "require('$pkgdir/package.json').version") installed: $prefix/bin/berth"
fi

# --- unit and environment file ---------------------------------------------------------
# put_file SRC DEST MODE: replace DEST when its content differs; says what it did.
put_file() {
  local src=$1 dest=$2 mode=$3
  mkdir -p "$(dirname "$dest")"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    log "$dest unchanged"
    rm -f "$src"
  else
    install -m "$mode" "$src" "$dest"
    rm -f "$src"
    log "wrote $dest"
    changed=1
  fi
}

unit_src=$SCRIPT_DIR/systemd/$unit.service
[ -f "$unit_src" ] || unit_src=$pkgdir/scripts/systemd/$unit.service
[ -f "$unit_src" ] || die "no $unit.service next to this script nor in $pkgdir"
tmp_unit=$(mktemp)
if [ "$prefix" = /usr/local ]; then
  cp "$unit_src" "$tmp_unit"
else
  # berth's "#!/usr/bin/env node" must find a node installed under the prefix too.
  sed -e "s|/usr/local/bin/berth|$prefix/bin/berth|g" \
    -e "s|^\[Service\]\$|[Service]\nEnvironment=PATH=$prefix/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|" \
    "$unit_src" >"$tmp_unit"
fi
put_file "$tmp_unit" "$UNIT_DIR/$unit.service" 0644

envfile=$DEFAULT_DIR/$unit
# Keep what an earlier run wrote unless new values are given.
old() { [ -f "$envfile" ] && sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$envfile" | tail -n 1; return 0; }
tmp_env=$(mktemp)
if [ "$role" = agent ]; then
  [ -n "$server" ] || server=$(old BERTH_SERVER)
  [ -n "$token" ] || token=$(old BERTH_JOIN_TOKEN)
  [ -n "$ca_hash" ] || ca_hash=$(old BERTH_CA_HASH)
  [ $args_set = 1 ] || args=$(old BERTH_AGENT_ARGS)
  [ -n "$server" ] || die "an agent needs --server (or --join); none given and none in $envfile"
  {
    echo "# berth agent settings, read by $unit.service (written by scripts/install.sh)."
    echo "BERTH_SERVER=$server"
    echo "# Needed for the first start only: the agent then keeps its own node token."
    echo "BERTH_JOIN_TOKEN=$token"
    echo "BERTH_CA_HASH=$ca_hash"
    echo "BERTH_AGENT_ARGS=\"$args\""
  } >"$tmp_env"
else
  [ $args_set = 1 ] || args=$(old BERTH_CONTROLLER_ARGS)
  {
    echo "# berth controller settings, read by $unit.service (written by scripts/install.sh)."
    echo "BERTH_CONTROLLER_ARGS=\"$args\""
  } >"$tmp_env"
fi
put_file "$tmp_env" "$envfile" 0600

# --- start ------------------------------------------------------------------------
if [ $start = 0 ]; then
  log "not starting $unit (--no-start)"
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if systemctl is-active --quiet "$unit" && [ $changed = 1 ]; then
    log "restarting $unit (pod containers keep running)"
    systemctl enable "$unit"
    systemctl restart "$unit"
  else
    systemctl enable --now "$unit"
  fi
  log "$unit: $(systemctl is-active "$unit")"
  if [ "$role" = controller ]; then
    log "join agents with the line in /var/lib/berth/controller/join-command (mode 0600):"
    log "  scripts/install.sh agent --join \"\$(cat /var/lib/berth/controller/join-command)\""
  fi
else
  log "systemd is not running (PID 1 is $(ps -o comm= -p 1 2>/dev/null || echo unknown)): not starting $unit"
  log "start it by hand: $prefix/bin/berth $( [ "$role" = agent ] && echo agent || echo controller up ) ..."
fi
log "done"
