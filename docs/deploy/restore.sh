#!/bin/sh
# Restore a backup made by backup.sh into an EMPTY PostgreSQL database and an empty (or missing) files directory.
# Nothing is overwritten: a database that already holds tables, or a files directory that holds files, is
# refused before anything is changed. The database is restored in one transaction.
#
# Usage: restore.sh BACKUP_DIR
# Reads HOSO_DATABASE_URL (the new database, created beforehand: createdb ...) and HOSO_FILES_DIR.
set -eu

src=${1:-}
if [ -z "$src" ] || [ ! -f "$src/database.dump" ] || [ ! -f "$src/files.tar" ]; then
    echo "usage: restore.sh BACKUP_DIR  (a folder written by backup.sh: database.dump, files.tar, SHA256SUMS)" >&2
    exit 2
fi
url=${HOSO_DATABASE_URL:-}
case "$url" in
    postgres://*|postgresql://*) ;;
    *) echo "restore.sh: HOSO_DATABASE_URL must be a postgresql:// URL" >&2; exit 2 ;;
esac
files=${HOSO_FILES_DIR:-var/files}

if ! (cd "$src" && sha256sum --check --quiet SHA256SUMS); then
    echo "restore.sh: the backup in $src is damaged (SHA256SUMS does not match)" >&2
    exit 1
fi
tables=$(psql "$url" --no-psqlrc --tuples-only --no-align \
         --command="SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
if [ "$tables" != "0" ]; then
    echo "restore.sh: the database already holds $tables tables; restore into a new, empty database" >&2
    exit 1
fi
if [ -d "$files" ] && [ -n "$(ls -A "$files")" ]; then
    echo "restore.sh: the files directory $files is not empty; restore into a new, empty directory" >&2
    exit 1
fi

pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$url" "$src/database.dump"
mkdir -p "$files"
tar -C "$files" -xf "$src/files.tar"
echo "restored $src"
