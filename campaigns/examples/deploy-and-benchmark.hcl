# deploy-and-benchmark: reserve nodes for deployment, install a fresh OS on
# them, then measure their memory bandwidth a few times on the nodes that
# deployed correctly.
#
#   gridflow campaign plan campaigns/examples/deploy-and-benchmark.hcl
#   gridflow campaign run  campaigns/examples/deploy-and-benchmark.hcl -var repetitions=5

variable "cluster" {
  type        = string
  default     = "gros"
  description = "Cluster of the Nancy site to benchmark."
}

variable "nodes" {
  type    = number
  default = 4
}

variable "repetitions" {
  type        = number
  default     = 3
  description = "How many times the benchmark runs on every node."

  validation {
    condition     = var.repetitions > 0 && var.repetitions <= 20
    error_message = "repetitions must be between 1 and 20."
  }
}

locals {
  # dd copies 2 GiB from /dev/zero and prints the bandwidth on its last line.
  blocks    = size("2GiB") / size("1MiB")
  benchmark = "dd if=/dev/zero of=/dev/null bs=1M count=${local.blocks} 2>&1 | tail -n 1"
}

reservation "bench" {
  site     = "nancy"
  cluster  = var.cluster
  nodes    = var.nodes
  walltime = "1h"
  types    = ["deploy"] # the nodes get reinstalled
}

deployment "os" {
  # Without "@version" the newest version in the catalogue is deployed; pin
  # one ("debian12-min@<version>") to make the experiment reproducible.
  environment = "debian12-min"
  nodes       = reservation.bench.nodes

  timeouts {
    write = "10m"
    boot  = "5m"
  }

  # Nodes that fail to deploy are listed in deployment.os.ko_nodes; the
  # deployment fails only if none succeeds, and is then tried once more.
  on_failure {
    retry {
      attempts = 2
      backoff  = "30s"
    }
  }
}

run "bandwidth" {
  count   = var.repetitions
  nodes   = deployment.os.ok_nodes
  command = local.benchmark
  env     = { LC_ALL = "C", RUN = tostring(count.index) }
  timeout = "10m"

  # One bad repetition should not throw away the others.
  on_failure = "continue"
}

output "deployed" {
  value = deployment.os.ok_nodes
}

output "failed_to_deploy" {
  value = deployment.os.ko_nodes
}

output "bandwidth" {
  description = "dd's summary line, per repetition and node."
  value       = [for r in run.bandwidth : { for node, res in r.results : node => trimspace(res.stdout) }]
}

output "exit_codes" {
  value = run.bandwidth[*].exit_code
}
