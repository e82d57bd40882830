#!/bin/sh
# Installs the Berth controller or agent on a Debian/Ubuntu host from a release built
# by `npm run package`. Safe to run again: upgrades the release, keeps existing configs.
#
#   install.sh controller|agent [--tarball FILE] [--prefix /opt/berth] [--user USER]
#                               [--deploy-dir DIR] [--root DIR] [--no-start]
#
#   --tarball FILE   release tarball (default: the release this script was unpacked
#                    from, else the newest berth-<component>-*.tar.gz beside the script,
#                    in ../release, or in the current directory)
#   --prefix DIR     install under DIR/<component> (default /opt/berth)
#   --user USER      service user. controller: default `berth` (a system user created
#                    here). agent: default the owner of --deploy-dir, else root
#   --deploy-dir DIR agent only: the worker's deploy_dir; sessions live in DIR/sessions
#                    and the agent may write under DIR (default: the parent of
#                    sessions_dir in the agent config, /home/ubuntu in the example)
#   --root DIR       install into DIR as a filesystem root (for images and tests): no
#                    user is created and no service is started on this machine
#   --no-start       install and enable, but do not (re)start the service
#
# Needs Node.js >= 20 (`node` on PATH, e.g. /usr/bin/node from NodeSource).
set -eu

usage() {
  sed -n '5,23p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
say() { printf 'berth-install: %s\n' "$*"; }
die() { printf 'berth-install: error: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || usage
component=$1; shift
case $component in controller|agent) ;; -h|--help) usage ;; *) usage ;; esac

tarball='' prefix=/opt/berth user='' deploy_dir='' root='' start=yes
while [ $# -gt 0 ]; do
  case $1 in
    --tarball) tarball=${2:?--tarball needs a file}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --user) user=${2:?--user needs a name}; shift 2 ;;
    --deploy-dir) deploy_dir=${2:?--deploy-dir needs a directory}; shift 2 ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --no-start) start=no; shift ;;
    -h|--help) usage ;;
    *) die "unknown option $1" ;;
  esac
done
case $prefix in /*) prefix=${prefix%/} ;; *) die "--prefix must be absolute" ;; esac
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root=$(cd "$root" && pwd)
fi
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then die "run as root (or use --root DIR)"; fi

here=$(cd "$(dirname "$0")" && pwd)
dest=$root$prefix/$component
etc=$root/etc/berth
units=$root/etc/systemd/system
unit=berth-$component.service
is_root=no; [ "$(id -u)" = 0 ] && is_root=yes

# ---- find the release ---------------------------------------------------------------
release_dir=''
if [ -z "$tarball" ]; then
  if [ -x "$here/../bin/berth-$component" ] && [ -f "$here/../dist/$component/main.js" ]; then
    release_dir=$(cd "$here/.." && pwd)
  else
    for dir in "$here" "$here/../release" "$(pwd)"; do
      found=$(ls -t "$dir"/berth-"$component"-*.tar.gz 2>/dev/null | head -n 1 || true)
      if [ -n "$found" ]; then tarball=$found; break; fi
    done
    [ -n "$tarball" ] || die "no berth-$component-*.tar.gz found; pass --tarball FILE"
  fi
fi
[ -z "$tarball" ] || [ -f "$tarball" ] || die "tarball $tarball not found"

# ---- node --------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "warning: Node.js >= 20 not found on PATH; the service needs it (e.g. NodeSource's nodejs package)"
fi

# ---- unpack: stage beside the target, then swap ---------------------------------------
mkdir -p "$(dirname "$dest")"
stage=$dest.new.$$
rm -rf "$stage"; mkdir -p "$stage"
if [ -n "$tarball" ]; then
  tar -xzf "$tarball" --strip-components=1 --no-same-owner -C "$stage"
else
  cp -R "$release_dir/." "$stage/"
fi
[ -x "$stage/bin/berth-$component" ] || { rm -rf "$stage"; die "the release has no bin/berth-$component: wrong component?"; }
chmod -R go-w "$stage"
if [ -d "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$stage" "$dest"
rm -rf "$dest.old.$$"
mkdir -p "$root/usr/local/bin"
ln -sfn "$prefix/$component/bin/berth-$component" "$root/usr/local/bin/berth-$component"
say "installed $component release to $dest"

# ---- users and ownership ---------------------------------------------------------------
chown_to() { # OWNER[:GROUP] PATH — skipped when not root or the user is unknown here
  if [ "$is_root" = yes ] && chown "$1" "$2" 2>/dev/null; then return 0; fi
  say "note: could not chown $2 to $1 (not root, or no such user on this machine)"
}
primary_group() { id -gn "$1" 2>/dev/null || echo "$1"; }

if [ "$component" = controller ]; then
  user=${user:-berth}
  if [ "$user" = berth ] && ! getent passwd berth >/dev/null 2>&1; then
    if [ -n "$root" ]; then
      say "--root: not creating the berth system user on this machine"
    else
      useradd --system --user-group --home-dir /var/lib/berth --no-create-home \
        --shell /usr/sbin/nologin --comment "Berth controller" berth
      say "created system user berth"
    fi
  fi
  if [ -z "$root" ] && ! id "$user" >/dev/null 2>&1; then die "no user $user on this machine"; fi
fi

# ---- /etc/berth -------------------------------------------------------------------
mkdir -p "$etc"
chmod 0755 "$etc"
random_hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
if [ "$component" = controller ]; then
  group=$(primary_group "$user")
  if [ ! -f "$etc/master_config.json" ]; then
    cp "$dest/deploy/master_config.example.json" "$etc/master_config.json"
    say "wrote $etc/master_config.json from the example: edit its servers"
  fi
  chmod 0640 "$etc/master_config.json"
  chown_to "root:$group" "$etc/master_config.json"
  # Every placeholder secret gets a random value, so no default token ever works. An
  # existing file (edited, or written by an agent install) only gains missing names.
  if [ ! -f "$etc/berth.env" ]; then
    (umask 077; : > "$etc/berth.env")
    fresh=yes
  else
    fresh=no
  fi
  added=''
  while IFS= read -r line; do
    case $line in
      *=change-me*)
        name=${line%%=*}
        if ! grep -q "^$name=" "$etc/berth.env"; then
          printf '%s=%s\n' "$name" "$(random_hex)" >> "$etc/berth.env"
          added="$added $name"
        fi ;;
      *) [ "$fresh" = no ] || printf '%s\n' "$line" >> "$etc/berth.env" ;;
    esac
  done < "$dest/deploy/berth.env.example"
  if [ -n "$added" ]; then
    say "set random values in $etc/berth.env for:$added (BERTH_ADMIN_TOKEN is the admin API token)"
  fi
  chmod 0600 "$etc/berth.env"
  chown_to root:root "$etc/berth.env"
  mkdir -p "$root/var/lib/berth"
  chmod 0750 "$root/var/lib/berth"
  chown_to "$user:$group" "$root/var/lib/berth"
else
  config=$etc/agent.json
  if [ -z "$deploy_dir" ]; then
    src=$config; [ -f "$src" ] || src=$dest/deploy/agent.example.json
    sessions=$(sed -n 's/.*"sessions_dir"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$src" | head -n 1)
    [ -n "$sessions" ] || die "no sessions_dir in $src; pass --deploy-dir"
    deploy_dir=$(dirname "$sessions")
  fi
  case $deploy_dir in /*) deploy_dir=${deploy_dir%/} ;; *) die "--deploy-dir must be absolute" ;; esac
  if [ -z "$user" ]; then
    user=root
    if [ -d "$root$deploy_dir" ]; then user=$(stat -c %U "$root$deploy_dir"); fi
    [ "$user" != UNKNOWN ] || user=root
  fi
  if [ -z "$root" ] && ! id "$user" >/dev/null 2>&1; then die "no user $user on this machine"; fi
  group=$(primary_group "$user")
  if [ ! -f "$config" ]; then
    sed "s#\"sessions_dir\"[[:space:]]*:[[:space:]]*\"[^\"]*\"#\"sessions_dir\": \"$deploy_dir/sessions\"#" \
      "$dest/deploy/agent.example.json" > "$config"
    say "wrote $config from the example: set controller_url, node_id and token"
  fi
  chmod 0600 "$config"
  chown_to "$user:$group" "$config"
  if [ ! -f "$etc/berth.env" ]; then
    (umask 077; printf '%s\n' \
      "# Environment for \${NAME} values in agent.json, read by systemd; keep it 0600 root." \
      "# BERTH_AGENT_TOKEN=<this worker's agent_token, as in the controller's berth.env>" \
      > "$etc/berth.env")
    if grep -q '"token"[[:space:]]*:[[:space:]]*"\${' "$config"; then
      say "wrote $etc/berth.env: set BERTH_AGENT_TOKEN there"
    else
      say "wrote $etc/berth.env (for optional BERTH_* variables; agent.json holds the token)"
    fi
  fi
  chmod 0600 "$etc/berth.env"
  chown_to root:root "$etc/berth.env"
  if [ ! -d "$root$deploy_dir/sessions" ]; then
    mkdir -p "$root$deploy_dir/sessions"
    chmod 0700 "$root$deploy_dir/sessions"
    chown_to "$user:$group" "$root$deploy_dir/sessions"
  fi
fi

# ---- systemd unit ------------------------------------------------------------------
mkdir -p "$units/$unit.d"
sed "s#/opt/berth/#$prefix/#g" "$dest/deploy/$unit" > "$units/$unit"
chmod 0644 "$units/$unit"
dropin=$units/$unit.d/10-install.conf
{
  echo "# Written by berth install.sh; re-running it rewrites this file."
  echo "[Service]"
  echo "User=$user"
  echo "Group=$group"
  if [ "$component" = agent ]; then
    echo "ReadWritePaths=$deploy_dir"
    if [ "$user" != root ]; then
      echo "# Not root: the agent owns its files and needs no capabilities."
      echo "CapabilityBoundingSet="
    fi
  fi
} > "$dropin"
chmod 0644 "$dropin"
say "installed $units/$unit (user $user)"

if [ -n "$root" ] || [ ! -d /run/systemd/system ]; then
  if [ -z "$root" ]; then say "systemd is not running as PID 1 here: the service is not started"; fi
  if systemctl --root="${root:-/}" enable "$unit" >/dev/null 2>&1; then
    say "enabled $unit under ${root:-/} (starts at the next boot)"
  else
    say "note: could not enable $unit offline; run \`systemctl enable $unit\` on the host"
  fi
else
  systemctl daemon-reload
  systemctl enable "$unit" >/dev/null
  if [ "$start" = yes ]; then
    systemctl restart "$unit"
    say "started $unit: journalctl -u $unit -f"
  else
    say "enabled $unit; start it with: systemctl start $unit"
  fi
fi
