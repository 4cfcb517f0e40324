# container-service: a Redis server in a container on one node and benchmark
# clients in containers on the others.
#
#   gridflow campaign run campaigns/examples/container-service.hcl -var clients=3

variable "clients" {
  type        = number
  default     = 2
  description = "Client containers, one per node."
}

reservation "svc" {
  site     = "lyon"
  cluster  = "nova"
  nodes    = 1 + var.clients
  walltime = "30m"
}

container "redis" {
  node  = reservation.svc.nodes[0]
  image = "redis:7"
  ports = { "6379" = 6379 }

  init {
    command = "redis-server"
    args    = ["--save", "", "--appendonly", "no"]
  }
}

container "client" {
  count = var.clients
  node  = nodes_skip(reservation.svc.nodes, 1)[count.index]
  image = "redis:7"

  init {
    command = "sleep"
    args    = ["infinity"]
  }
}

run "bench" {
  count     = var.clients
  container = container.client[count.index].id
  command   = "redis-benchmark"
  args      = ["-h", container.redis.node, "-p", "6379", "-q", "-n", "10000", "-t", "set,get"]
  timeout   = "10m"

  on_failure {
    retry {
      attempts = 3
      backoff  = "5s"
    }
    then = "continue"
  }
}

output "server" {
  value = "${container.redis.node}:6379"
}

output "requests_per_second" {
  value = run.bench[*].stdout
}
