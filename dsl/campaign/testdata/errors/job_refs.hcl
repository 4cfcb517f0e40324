job "missing" {
  arguments = "no executable"
}

output "status" {
  value = job.missing.state
}
