// Package testbed parses testbed descriptions: the HCL files that say which
// sites, clusters and nodes a Gridflow engine manages and which driver acts on
// each cluster. It returns a typed model (*Testbed) and hcl.Diagnostics, never a
// bare error; it knows nothing of servers, databases or Temporal.
//
// # Language
//
// A testbed file is a list of site blocks. Everything is written literally:
// there are no variables, functions or for expressions, because a testbed
// describes fixed hardware.
//
//	site "rennes" {                      # uid
//	  name        = "Rennes"             # optional, defaults to the uid
//	  description = "Rennes, Brittany"   # optional
//	  location    = "Rennes, France"     # optional
//	  latitude    = 48.1147              # optional, -90..90
//	  longitude   = -1.6794              # optional, -180..180
//
//	  cluster "paravance" {              # uid, unique within the site
//	    description = "..."              # optional
//	    model       = "Dell PowerEdge R630"
//	    queues      = ["default", "besteffort"] # optional, subset of
//	                                     # default, besteffort, admin (all three if omitted)
//
//	    driver "sim" {                   # exactly one: "sim", "agent" or "docker"
//	      boot_time    = "90s"           # duration, 0..24h       (default "5s")
//	      deploy_time  = "4m"            # duration, 0..24h       (default "15s")
//	      copy_rate    = "10Gbps"        # data rate, > 0         (default "10Gbps")
//	      failure_rate = 0.01            # probability, 0..1      (default 0)
//	      seed         = 7               # integer (default: derived from site and cluster uid)
//	    }
//
//	    nodes {                          # a run of nodes named by a pattern
//	      count = 72                     # 1..100000
//	      name  = "paravance-%d"         # exactly one %d, replaced by first..first+count-1
//	      first = 1                      # optional, default 1
//	      properties {
//	        cores     = 16               # required, 1..65536
//	        cpu_model = "Intel Xeon E5-2630 v3"
//	        memory    = "128GiB"         # required size
//	        disk      = "600GB"          # optional size
//	        network   = "10Gbps"         # optional data rate
//	        gpu {                        # optional
//	          count = 2                  # required in the block, 0..64
//	          model = "Nvidia Tesla V100"
//	        }
//	      }
//	    }
//
//	    node "paravance-special" {       # one explicitly named node
//	      properties { cores = 32  memory = "256GiB" }
//	    }
//	  }
//	}
//
// The agent driver maps every node of its cluster to the address of the
// gridflow agent that runs on it; keys are node uids and must be quoted when
// they contain "-":
//
//	driver "agent" {
//	  agents = { "lab-1" = "127.0.0.2:7070", "lab-2" = "127.0.0.3:7070" }
//	}
//
// The docker driver runs the containers of its nodes on Docker Engines: each
// node is an engine's scope (its containers are named and labelled after the
// node). By default every node uses the engine of $DOCKER_HOST, else the local
// socket; host sets another one for the cluster and hosts one per node:
//
//	driver "docker" {}
//	driver "docker" {
//	  host  = "unix:///var/run/docker.sock"                # optional
//	  hosts = { "box-2" = "tcp://10.0.0.5:2375" }          # optional
//	}
//
// Sizes are parsed by units.ParseSize ("128GiB", "600GB", bytes as a number),
// rates by units.ParseRate ("10Gbps", "1.25GB/s"), durations by
// units.ParseDuration ("90s", "4m", "01:30:00", seconds as a number).
//
// # Rules
//
// Uids of sites, clusters and nodes are used in URLs and host names: they match
// ^[a-z0-9][a-z0-9-]*$ and have at most 63 characters. Site uids are unique in
// the file, cluster uids within their site, and node uids across the whole
// testbed. Every site has at least one cluster and every cluster at least one
// node. An agent driver names an address for every node of its cluster and no
// other node.
//
// Hostile input is refused with a diagnostic rather than exhausting the
// process: a file is at most MaxSourceSize bytes, brackets nest at most
// MaxNesting deep, a nodes block declares at most MaxNodesPerBlock nodes and the
// testbed at most MaxNodes.
//
// # Diagnostics
//
// Parsing runs in phases and stops after the first phase that reports errors,
// so a user sees the first real mistake rather than its echoes: (1) size and
// syntax, (2) the structure and the value of every argument, (3) node
// expansion, uniqueness of node uids and agent addresses. Every diagnostic has a
// Subject (the exact range of the offending label or expression), a one-line
// Summary and a Detail that says how to fix it. Keep the Parser (or its Files)
// to render them with source snippets through FormatDiagnostics.
package testbed
