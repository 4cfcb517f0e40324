variable "site" {
  type        = string
  description = "Where to run."
}

variable "nodes" {
  type    = number
  default = "many"
}

variable "walltime" {
  type    = string
  default = "10h"

  validation {
    condition     = duration(var.walltime) <= duration("4h")
    error_message = "Keep the walltime at 4h or less during the day."
  }
}

variable "other" {
  default = 1

  validation {
    condition     = var.walltime != ""
    error_message = "Nope."
  }
}
