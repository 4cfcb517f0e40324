# gpu-training: stage a dataset from a storage node in Rennes onto GPU nodes
# in Nancy, train on every GPU node, and bring the models back.
#
#   gridflow campaign run campaigns/examples/gpu-training.hcl
#   gridflow campaign run campaigns/examples/gpu-training.hcl -var gpu_nodes=3 -var results=file:///srv/gridflow/models

variable "gpu_nodes" {
  type        = number
  default     = 2
  description = "GPU nodes to train on (cluster grue, 4 GPUs each)."
}

variable "dataset_size" {
  type        = string
  default     = "256MiB"
  description = "Size of the generated dataset."
}

variable "epochs" {
  type    = number
  default = 3
}

variable "results" {
  type        = string
  default     = "file:///tmp/gridflow/results/gpu-training"
  description = "Where the models are copied: a file:// URL under the engine's data roots."
}

locals {
  dataset = "/tmp/dataset/train.bin"
  model   = "/tmp/model/model.bin"
}

reservation "gpu" {
  site       = "nancy"
  cluster    = "grue"
  nodes      = var.gpu_nodes
  properties = { gpu_count = 4 } # every node with at least 4 GPUs
  walltime   = "2h"
}

reservation "storage" {
  site     = "rennes"
  nodes    = { parasilo = 1 } # the clusters with big disks
  walltime = "2h"
}

run "make_dataset" {
  nodes   = reservation.storage.nodes
  command = <<-EOT
    mkdir -p $(dirname ${local.dataset})
    head -c ${size(var.dataset_size)} /dev/urandom > ${local.dataset}
    sha256sum ${local.dataset} | cut -d ' ' -f 1
  EOT
}

transfer "dataset_in" {
  for_each = toset(reservation.gpu.nodes)

  files {
    source      = "node://${reservation.storage.nodes[0]}${local.dataset}"
    destination = "node://${each.key}${local.dataset}"
    checksum    = "sha256:${trimspace(run.make_dataset.stdout)}"
  }

  retry       = 2
  retry_delay = "10s"
  priority    = 4
}

run "train" {
  nodes      = reservation.gpu.nodes
  env        = { EPOCHS = tostring(var.epochs) }
  timeout    = "90m"
  depends_on = [transfer.dataset_in]

  # A stand-in for a training script: it reads the dataset once per epoch
  # and writes a "model" derived from it.
  command = <<-EOT
    mkdir -p $(dirname ${local.model})
    for epoch in $(seq 1 ${var.epochs}); do
      sha256sum ${local.dataset} > /dev/null
      echo "epoch $epoch done"
    done
    sha256sum ${local.dataset} > ${local.model}
    echo "loss=0.042"
  EOT
}

transfer "models_out" {
  for_each = toset(reservation.gpu.nodes)

  files {
    source      = "node://${each.key}${local.model}"
    destination = "${var.results}/${each.key}/model.bin"
    checksum    = "sha256"
  }

  overwrite  = true
  depends_on = [run.train]
}

output "dataset_sha256" {
  value = trimspace(run.make_dataset.stdout)
}

output "final_loss" {
  value = { for node, r in run.train.results : node => regex("loss=([0-9.]+)", r.stdout)[0] }
}

output "models" {
  value = [for t in transfer.models_out : t.files[0].destination]
}
