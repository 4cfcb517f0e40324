# inventory: fake
job "bad" {
  executable     = ""
  cores          = -1
  memory         = "lots"
  cputime        = "800h"
  files          = { "../escape.sh" = "echo", "ok.sh" = "echo ok" }
  output_sandbox = ["/etc/passwd"]
  sites          = ["mars"]
}
