reservation "my exp" {
  site  = "rennes"
  nodes = 2
}

run "1st" {
  nodes   = []
  command = "true"
}
