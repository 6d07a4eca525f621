#!/bin/sh
# Back up a hoso deployment: the PostgreSQL database (pg_dump, one consistent snapshot) and then the files
# directory (attachments). The database goes first: stored files are never overwritten or renamed, so every file
# the dump refers to is already on disk when the files are copied.
#
# Usage: backup.sh DEST_DIR
# Reads HOSO_DATABASE_URL (postgresql://...) and HOSO_FILES_DIR (default var/files), as hoso does.
# Writes DEST_DIR/hoso-YYYYMMDDTHHMMSSZ/ with database.dump (pg_dump custom format), files.tar and SHA256SUMS,
# and prints that folder's path.
set -eu

dest=${1:-}
if [ -z "$dest" ]; then
    echo "usage: backup.sh DEST_DIR  (env HOSO_DATABASE_URL, HOSO_FILES_DIR)" >&2
    exit 2
fi
url=${HOSO_DATABASE_URL:-}
case "$url" in
    postgres://*|postgresql://*) ;;
    *) echo "backup.sh: HOSO_DATABASE_URL must be a postgresql:// URL (for SQLite, copy the file with" \
            "sqlite3 FILE \".backup COPY\")" >&2
       exit 2 ;;
esac
files=${HOSO_FILES_DIR:-var/files}
if [ ! -d "$files" ]; then
    echo "backup.sh: the files directory $files does not exist (HOSO_FILES_DIR)" >&2
    exit 2
fi

out="$dest/hoso-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
pg_dump --format=custom --no-owner --no-privileges --file="$out/database.dump" "$url"
tar -C "$files" -cf "$out/files.tar" .
(cd "$out" && sha256sum database.dump files.tar > SHA256SUMS)
echo "$out"
