# order: reservation.exp, run.server, run.clients
# levels: 0, 1, 1
locals {
  walltime = duration("01:30:00")
  scratch  = size("128GiB")
  clusters = nodes_by_cluster(["paravance-2", "parasilo-1", "paravance-10"])
  sorted   = nodes_sort(["paravance-10", "paravance-2"])
  halves   = nodes_split(["a", "b", "c"], 2)
  chunks   = nodes_chunk(["a", "b", "c"], 2)
  first    = nodes_take(["a", "b"], 1)
  rest     = nodes_skip(["a", "b"], 1)
  misc = [upper("x"), lower("Y"), format("%03d", 7), join(",", ["a"]), length(split(",", "a,b")),
    min(1, 2), max(3, 4), merge({ a = 1 }, { b = 2 }), keys({ a = 1 }), values({ a = 1 }),
    contains(["a"], "a"), flatten([[1], [2]]), distinct([1, 1]), element(["a"], 0),
    lookup({ a = 1 }, "a", 0), coalesce("", "x"), jsonencode({ a = 1 }), jsondecode("[1]"),
    regex("[a-z]+", "abc1"), replace("a-b", "-", "_"), substr("hello", 0, 2), tostring(1),
    tonumber("2"), tolist(["a"]), toset(["a"]), tomap({ a = 1 }), range(3), concat([1], [2]),
  try(local.clusters["nope"], "fallback"), can(regex("^x", "y"))]
}

reservation "exp" {
  site       = "rennes"
  nodes      = { paravance = 2, parasilo = 1 }
  properties = { memory = size("64GiB"), cores = 16 }
  walltime   = local.walltime
  queue      = "default"
  start      = "2030-01-15T20:00:00+01:00"
}

run "server" {
  nodes   = nodes_take(nodes_sort(reservation.exp.nodes), 1)
  command = "server --scratch ${local.scratch}"
  timeout = 3600
}

run "clients" {
  nodes   = nodes_skip(nodes_sort(reservation.exp.nodes), 1)
  command = "client"
  args    = ["--server", nodes_sort(reservation.exp.nodes)[0]]
}
