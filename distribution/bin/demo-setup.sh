#!/usr/bin/env bash
# demo-setup.sh DIR — prepares the `make run` demo pipeline in DIR:
#   DIR/input.txt  --file-source-->  topic rmqconnect-demo  --file-sink-->  DIR/output.txt
# Writes the two connector configs and a first few input lines (kept if they exist), then
# prints where to look.
set -euo pipefail
dir=${1:?usage: demo-setup.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ ! -f "$dir/input.txt" ]; then
  {
    echo "hello from rmqconnect"
    printf 'a line with a CRLF ending\r\n'
    echo "ünïcödé stays byte for byte"
    echo "append more lines to input.txt and watch output.txt"
  } >"$dir/input.txt"
fi
cat >"$dir/file-source.properties" <<CONF
name=demo-file-source
connector.class=file-source
filename=$dir/input.txt
connect.topicname=rmqconnect-demo
ordering.msg.enable=true
CONF
cat >"$dir/file-sink.properties" <<CONF
name=demo-file-sink
connector.class=file-sink
filename=$dir/output.txt
connect.topicnames=rmqconnect-demo
ordering.msg.enable=true
CONF
cat <<MSG
rmqconnect demo pipeline:  $dir/input.txt -> RocketMQ topic rmqconnect-demo -> $dir/output.txt
  try:  echo "another line" >> $dir/input.txt && sleep 1 && tail $dir/output.txt
  REST: curl -s localhost:8082/connectors?expand=status
  stop: Ctrl-C (the broker keeps running; 'make rocketmq-down' stops it)
MSG
