# One image for both roles of the end-to-end tests (and for trying Gridflow in
# containers): the engine (`gridflow dev`) and the node agent (`gridflow agent`).
#
# Nothing is pulled: the image starts FROM scratch and gets
#   e2e/.build/gridflow  a static binary:  CGO_ENABLED=0 go build -o e2e/.build/gridflow ./cmd/gridflow
#   e2e/.build/busybox   Debian's busybox-static (cp /bin/busybox e2e/.build/), for the agent's
#                        `/bin/sh -c` commands (sh, hostname, sleep, echo, ...)
# The e2e tests (go test -tags e2e ./e2e/, or scripts/e2e.sh) prepare both and build the
# image themselves; by hand, after the two commands above: docker build -t gridflow .
# .dockerignore keeps the build context to these two files.
#
#   docker run gridflow dev --listen 0.0.0.0:8080 --data-dir /data ...
#   docker run gridflow agent --listen 0.0.0.0:7070 --data-dir /agent --token ...
FROM scratch
COPY e2e/.build/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY e2e/.build/gridflow /gridflow
# /tmp for commands run by the agent, /data and /agent for the data directories, and a
# user database: a static (CGO_ENABLED=0) binary finds the current user in /etc/passwd
# or $USER, and the embedded Temporal server refuses to start without one
# ("user: Current requires cgo or $USER set in environment").
RUN ["/bin/sh", "-c", "mkdir -p /tmp /data /agent /root && chmod 1777 /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group"]
ENV PATH=/bin USER=root HOME=/root
EXPOSE 8080 8233 7233 7070
ENTRYPOINT ["/gridflow"]
CMD ["--help"]
