#!/bin/sh
# Two nodes as deployed, by hand: each runs as `nobody` in a mount namespace of its own with its
# data directory at the same path (as separate containers would), on the test PostgreSQL
# (`scripts/start-postgres.sh`); a real ffmpeg publishes to node a, and node b serves its HLS and
# its recording, deletes it, and node a drains. Run as root after `swift build`; prints what it saw.
# Not part of `make test` (docs/contract.md §7 behaviour is tested there as root).
set -u
B="${LIVEGATE_BINARY:-$(cd "$(dirname "$0")/.." && pwd)/.build/debug/livegate}"
trap 'pkill -f "rtmp-port 24935"; pkill -f "rtmp-port 24945"' EXIT
R=/tmp/nr; rm -rf $R; mkdir -p $R/a $R/b $R/mnt; chown -R nobody $R
DB=lg_nonroot_$$
psql -h 127.0.0.1 -p 55432 -U livegate -d livegate_test -q -c "CREATE DATABASE $DB"
start() { # name dir rtmp http
  runuser -u nobody -- env LIVEGATE_DATABASE_URL=postgres://livegate@127.0.0.1:55432/$DB LIVE_TOKEN_ID=tok_nr LIVE_TOKEN_SECRET=nr-secret-0123456789 \
    LIVEGATE_NODE_ID=$1 LIVEGATE_RTMP_HOST=127.0.0.1 LIVEGATE_HTTP_HOST=127.0.0.1 LIVEGATE_DATA_DIR=$R/mnt PATH=/usr/bin:/bin \
    unshare -mr --propagation private sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' x $2 $R/mnt $B serve --rtmp-port $3 --http-port $4 > $R/$1.log 2>&1 &
}
start node-a $R/a 24935 24936
start node-b $R/b 24945 24946
sleep 6
ps -o user,pid,args -C livegate | head -3
A=http://127.0.0.1:24936; BB=http://127.0.0.1:24946; AUTH="-u tok_nr:nr-secret-0123456789"
CH=$(curl -s $AUTH -X POST $A/v1/channels --json '{"name":"nr","userId":"u1","record":true}')
ID=$(echo "$CH" | python3 -c "import sys,json; print(json.load(sys.stdin)['data']['id'])"); KEY=$(echo "$CH" | python3 -c "import sys,json; print(json.load(sys.stdin)['data']['streamId'])")
ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine -t 8 -c:v libx264 -preset ultrafast -g 50 -c:a aac -f flv rtmp://127.0.0.1:24935/live/$KEY &
sleep 6
echo "files of node a seen by root:"; ls $R/a/hls/$ID | head -3; echo "node b's own hls dir:"; ls $R/b/hls 2>&1 | head -2
echo "playlist via node b: $(curl -s -o /dev/null -w '%{http_code}' $BB/hls/$ID/index.m3u8)"
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 $BB/hls/$ID/index.m3u8 | tr '\n' ' '; echo
wait %3 2>/dev/null; sleep 4
VID=$(curl -s $AUTH "$BB/v1/videos?channelId=$ID" | python3 -c "import sys,json; print(json.load(sys.stdin)['data']['items'][0]['id'])")
curl -s $AUTH -o $R/v.mp4 -w "download via b: %{http_code} %{size_download} bytes\n" $BB/v1/videos/$VID/file
ffprobe -v error -show_entries stream=codec_name,width -of csv=p=0 $R/v.mp4 | tr '\n' ' '; echo
echo "owner of node a's files: $(stat -c %U $R/a/recordings/$ID/* | sort -u)"
curl -s $AUTH -X DELETE -o /dev/null -w "delete via b: %{http_code}\n" $BB/v1/videos/$VID; sleep 4; echo "left on a: $(ls $R/a/recordings/$ID | wc -l)"
curl -s $AUTH -X POST $A/v1/system/drain; echo; sleep 3
echo "node a running after drain: $(pgrep -f 'rtmp-port 24935' | wc -l)"; grep -c "draining" $R/node-a.log
grep -iE "error|denied" $R/node-a.log $R/node-b.log | grep -v "session not recorded" | head -5
