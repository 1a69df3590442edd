#!/usr/bin/env bash
# Install the build into a temporary DESTDIR and use what got installed
# as a user would, from a prefix the dynamic loader does not search:
#  - bin/orchestra starts (its RUNPATH finds the libraries), runs a
#    workflow on SQLite without loading liborchestra-aws or libcurl,
#    loads them for --backend dynamodb, and says which library is
#    missing when liborchestra-aws is gone (SQLite still working) and
#    what is wrong with it when it is broken; likewise `serve` loads
#    liborchestra-http (and libmicrohttpd), which nothing else loads;
#  - liborchestra.so links neither libcurl, libcrypto nor libmicrohttpd;
#  - a C program builds and runs against the prefix with CMake
#    (find_package(liborchestra), the three imported targets) and with
#    pkg-config (liborchestra, liborchestra-aws, liborchestra-http); the
#    CMake package
#    refuses an incompatible version;
#  - the man page's synopsis names every command `orchestra --help`
#    lists, and the docs are installed.
#
# usage: run.sh BUILD_DIR   with, in the environment, ORC_PREFIX,
# ORC_BINDIR, ORC_LIBDIR, ORC_INCLUDEDIR, ORC_MANDIR, ORC_DATADIR (meson's
# options), ORC_VERSION, ORC_HAVE_DYNAMODB and ORC_HAVE_HTTP
# (true/false), ORC_CFLAGS
# (sanitizer flags of the build, for the consumers).
# A missing tool fails the test under CI=true and skips it (77) otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
for tool in meson cmake pkg-config readelf "${CC:-cc}"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		[ "${CI:-}" = true ] && fail "$tool not found (.ci/setup installs it)"
		echo "SKIP: $tool not found"
		exit 77
	fi
done
# Nothing may find the libraries but the installed files themselves.
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
# An install directory under the DESTDIR (absolute ones stay absolute).
at() {
	case $1 in
	/*) echo "$dest$1" ;;
	*) echo "$dest$ORC_PREFIX/$1" ;;
	esac
}

echo "== meson install --destdir"
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
root=$dest$ORC_PREFIX
bin=$(at "$ORC_BINDIR")/orchestra
libdir=$(at "$ORC_LIBDIR")
for f in "$bin" "$libdir/liborchestra.so.0" "$libdir/liborchestra-aws.so.0" \
	"$libdir/liborchestra-http.so.0" \
	"$libdir/pkgconfig/liborchestra.pc" \
	"$libdir/pkgconfig/liborchestra-aws.pc" \
	"$libdir/pkgconfig/liborchestra-http.pc" \
	"$libdir/cmake/liborchestra/liborchestraConfig.cmake" \
	"$libdir/cmake/liborchestra/liborchestraConfigVersion.cmake" \
	"$(at "$ORC_INCLUDEDIR")/orchestra/orchestra.h" \
	"$(at "$ORC_INCLUDEDIR")/orchestra/version.h" \
	"$(at "$ORC_MANDIR")/man1/orchestra.1" \
	"$(at "$ORC_DATADIR")/doc/liborchestra/README.md" \
	"$(at "$ORC_DATADIR")/doc/liborchestra/docs/cli.md"; do
	[ -e "$f" ] || fail "not installed: ${f#"$dest"}"
done

echo "== liborchestra.so links neither libcurl, libcrypto nor libmicrohttpd"
needed=$(readelf -d "$libdir/liborchestra.so.0" | grep NEEDED || true)
if grep -E 'libcurl|libcrypto|libssl|libmicrohttpd|libgnutls' <<<"$needed"; then
	fail "liborchestra.so.0 links the libraries above"
fi

echo "== the installed orchestra starts from the prefix"
out=$("$bin" --version) || fail "installed orchestra does not start"
[ "$out" = "orchestra $ORC_VERSION" ] || fail "--version says '$out'"

echo "== a run on SQLite loads no liborchestra-aws, libcurl, liborchestra-http, libmicrohttpd"
cd "$tmp"
printf '{"tasks": [{"id": "t", "command": ["true"]}]}\n' >wf.json
LD_DEBUG=files "$bin" run wf.json --db "$tmp/o.db" --plain \
	>run.out 2>run.debug || { cat run.out run.debug >&2; fail "run"; }
grep -q 'file=liborchestra.so.0 ' run.debug ||
	fail "LD_DEBUG shows no loading at all (cannot judge)"
if grep -E 'file=[^ ]*(liborchestra-aws|libcurl|libcrypto|liborchestra-http|libmicrohttpd|libgnutls)' run.debug; then
	fail "a SQLite run loaded the libraries above"
fi
"$bin" status "$(sed -n 's/^workflow //p' run.out | head -1)" \
	--db "$tmp/o.db" >/dev/null || fail "status after the run"

echo "== --backend dynamodb loads liborchestra-aws"
# An endpoint that refuses connections: the call fails fast (exit 4)
# after the library has been loaded.
aws_env=(AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDINSTALLTEST
	AWS_SECRET_ACCESS_KEY=install-test AWS_EC2_METADATA_DISABLED=true
	AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9)
# usage: exit4 WHAT PATTERN ARGS...: orchestra ARGS, with that
# environment, must exit 4 with PATTERN (grep) on stderr, kept in err.txt.
exit4() {
	local what=$1 pattern=$2 rc
	shift 2
	set +e
	env "${aws_env[@]}" "$bin" "$@" >/dev/null 2>err.txt
	rc=$?
	set -e
	[ "$rc" -eq 4 ] || { cat err.txt >&2; fail "$what: exit $rc, not 4"; }
	grep -q -- "$pattern" err.txt ||
		{ cat err.txt >&2; fail "$what: stderr lacks '$pattern'"; }
}
LD_DEBUG=files exit4 "dynamodb list" \
	"file=[^ ]*liborchestra-aws.so.0 .*dynamically loaded" \
	list --backend dynamodb --table t
if [ "$ORC_HAVE_DYNAMODB" = true ]; then
	grep -q 'file=[^ ]*libcurl' err.txt || fail "libcurl was not loaded"
fi

echo "== without liborchestra-aws: a clear error for DynamoDB, SQLite works"
mkdir aside
mv "$libdir"/liborchestra-aws.so* aside/
exit4 "dynamodb list without the library" \
	'needs liborchestra-aws.so.0, which cannot be loaded' \
	list --backend dynamodb --table t
cat err.txt
exit4 "table create without the library" \
	'needs liborchestra-aws.so.0, which cannot be loaded' table create t
"$bin" list --db "$tmp/o.db" >/dev/null || fail "SQLite list without liborchestra-aws"
mv aside/* "$libdir"/
# A broken library beside liborchestra is reported, not bypassed.
mv "$libdir/liborchestra-aws.so.0" aside/
printf 'not a library\n' >"$libdir/liborchestra-aws.so.0"
exit4 "dynamodb list with a broken library" \
	'liborchestra-aws.so.0: file too short' list --backend dynamodb --table t
cat err.txt
mv aside/liborchestra-aws.so.0 "$libdir/"

if [ "$ORC_HAVE_HTTP" = true ]; then
	echo "== serve loads liborchestra-http and libmicrohttpd"
	LD_DEBUG=files "$bin" serve --listen 127.0.0.1:0 --db "$tmp/o.db" \
		>serve.out 2>serve.debug &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^listening on' serve.out && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^listening on' serve.out ||
		{ kill "$pid" 2>/dev/null; cat serve.out serve.debug >&2; fail "serve did not listen"; }
	kill -TERM "$pid"
	wait "$pid" || fail "serve exited $? on SIGTERM"
	grep -q 'file=[^ ]*liborchestra-http.so.0 .*dynamically loaded' serve.debug ||
		fail "serve did not open liborchestra-http with dlopen"
	grep -q 'file=[^ ]*libmicrohttpd' serve.debug ||
		fail "serve did not load libmicrohttpd"

	echo "== without liborchestra-http: a clear error for serve"
	mv "$libdir"/liborchestra-http.so* aside/
	exit4 "serve without the library" \
		'needs liborchestra-http.so.0, which cannot be loaded' \
		serve --listen 127.0.0.1:0 --db "$tmp/o.db"
	cat err.txt
	mv aside/* "$libdir"/
fi

echo "== pkg-config consumers"
# The sysroot prefixes the .pc files' paths with the DESTDIR; jansson
# and the others still come from the system's .pc files.
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
for pc in liborchestra liborchestra-aws liborchestra-http; do
	def=""
	[ "$pc" = liborchestra-aws ] && def=-DCONSUMER_AWS=1
	[ "$pc" = liborchestra-http ] && def=-DCONSUMER_HTTP=1
	# shellcheck disable=SC2046,SC2086
	"${CC:-cc}" -std=c11 -Wall -Wextra -Werror $ORC_CFLAGS $def \
		"$here/consumer.c" -o "pc-$pc" $(pkg-config --cflags --libs "$pc") \
		-Wl,-rpath,"$libdir" || fail "build against pkg-config $pc"
	"./pc-$pc" || fail "pkg-config $pc consumer"
done
if readelf -d pc-liborchestra | grep -E 'NEEDED.*(orchestra-aws|libcurl|orchestra-http|libmicrohttpd)'; then
	fail "the liborchestra consumer links the libraries above"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

echo "== CMake consumers"
# As a user asks: the major.minor version.
minor=${ORC_VERSION#*.}
minor=${minor%%.*}
major=${ORC_VERSION%%.*}
cmake -S "$here" -B cmake-build -G Ninja -DCMAKE_PREFIX_PATH="$root" \
	-DORC_VERSION="$major.$minor" -DCMAKE_C_FLAGS="$ORC_CFLAGS" \
	>cmake.log 2>&1 || { cat cmake.log >&2; fail "cmake configure"; }
cmake --build cmake-build >>cmake.log 2>&1 ||
	{ cat cmake.log >&2; fail "cmake build"; }
./cmake-build/consumer || fail "CMake consumer"
./cmake-build/consumer_aws || fail "CMake liborchestra-aws consumer"
./cmake-build/consumer_http || fail "CMake liborchestra-http consumer"
# The next minor release before 1.0, the next major one after.
if [ "$major" = 0 ]; then
	newer=0.$((minor + 1))
else
	newer=$((major + 1)).0
fi
if cmake -S "$here" -B cmake-bad -G Ninja -DCMAKE_PREFIX_PATH="$root" \
	-DORC_VERSION="$newer" >cmake-bad.log 2>&1; then
	fail "find_package(liborchestra $newer) accepted $ORC_VERSION"
fi
grep -q "liborchestraConfig.cmake, version: $ORC_VERSION" cmake-bad.log ||
	{ cat cmake-bad.log >&2; fail "the refusal is not the version's"; }

echo "== the man page's synopsis names every command"
man=$(at "$ORC_MANDIR")/man1/orchestra.1
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$man")
cmds=$("$bin" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && !/:$/ {print $1}')
[ -n "$cmds" ] || fail "orchestra --help lists no commands"
for c in $cmds; do
	grep -Eq "^\.B orchestra $c( |\$)" <<<"$synopsis" ||
		fail "the synopsis of orchestra.1 does not name '$c'"
done
echo "commands in the synopsis:" $cmds
echo "PASS"
