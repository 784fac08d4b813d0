// The commented cairn.yaml that `cairn agent --init` writes. Every line is a comment, so it changes
// nothing until edited; the tests check that uncommenting it gives a valid config.
export const EXAMPLE_CONFIG = `# Cairn agent settings. The agent reloads this file when it changes (or on SIGHUP); an invalid
# edit is reported in the agent's log and the running settings stay. Check it with:
#   cairn config check
# Command-line flags of "cairn agent" override what is written here. Secrets never go in this
# file: the passphrase comes from CAIRN_PASSPHRASE or --passphrase-file.
#
# name: nas-at-home             # the name friends see (default: the hostname)
# replicas: 2                   # copies of each pack at friends (capped by the number of friends)
# replicate-every: 15m          # replication also runs after every backup
# bandwidth-limit: 5M           # upload limit for replication, per second (default: unlimited; at least 64K)
# disk-floor: 1G                # refuse friends' packs when free disk would drop below this
# listen:                       # libp2p addresses friends dial
#   - /ip4/0.0.0.0/tcp/4001
# announce:                     # also tell friends these (a router's forwarded port, a DNS name)
#   - /dns4/nas.example.org/tcp/4001
# lan-discovery: true           # find friends on this LAN by mDNS (others on the LAN see our PeerId)
# port-mapping: true            # ask the router (UPnP, NAT-PMP) to forward the listening port
# relay:                       # what this agent relays for each friend (both directions, both ends)
#   rate: 4M                    # per second (0: unlimited; at least 128K)
#   daily: 8G                   # per UTC day; past it the friend's relayed connections wait a day
# stun:                         # a STUN server for WebRTC (default: none; friends' agents answer STUN)
#   - stun:stun.example.org:3478
# webrtc: true                  # WebRTC between friends behind NATs (false: relays only, no UDP)
# console:
#   address: 127.0.0.1:8080     # console and API; another address needs allow-remote: true
#   allow-remote: false         # beyond loopback always over HTTPS: a self-signed certificate made
#                               # in the home (fingerprint in the log), or your own:
#   tls-cert: /etc/ssl/nas.crt  # PEM certificate (chain) and key, absolute paths, both or neither
#   tls-key: /etc/ssl/nas.key
# friends:
#   grant: 10G                  # space offered to a new friend by default
#   deletion-grace: 7d          # how long we keep a friend's packs after they ask us to delete them
#   repair-after: 14d           # a friend unreachable this long stops counting: its packs go to others
#   audit:                      # storage challenges: friends prove they still hold our packs
#     period: 30d               # every pack at every friend is challenged at least this often
#     daily-share: 1%           # a day's challenges read at most this much of what a friend holds
# maintenance:
#   forget: "0 3 * * *"         # apply each source's retention every night at 03:00
#   prune: "30 3 * * 0"         # then give space back, locally and at friends, every Sunday
# drills:
#   schedule: "30 4 * * 0"      # restore a sample of each source from friends' copies alone (weekly; "off": never)
# sources:
#   - name: postgres
#     volumes: [pgdata]          # Docker volumes by name
#     schedule: "0 * * * *"      # cron: every hour on the hour
#     tags: [db]
#     consistency:               # overrides the containers' cairn.* labels for these volumes
#       exec-before: "pg_dump -U postgres -f /var/lib/postgresql/data/dump.sql"
#       exec-container: postgres # run it only there (default: every container using the volumes)
#       exec-timeout: 10m
#       stop: false              # true: stop the containers for the snapshot; pause: true pauses
#     volume-read: auto          # auto, mountpoint or helper (a short-lived helper container)
#     retention:
#       keep-hourly: 24
#       keep-daily: 7
#       keep-weekly: 4
#       keep-monthly: 12
#   - name: labelled
#     volume-selectors: ["cairn.backup=true"]   # every volume whose containers carry this label
#     schedule: "15 */6 * * *"
#     retention:
#       keep-last: 10
#       keep-within: 30d
#       keep-tag: [release]
#   - name: photos
#     paths: [/srv/photos]
#     exclude: ["*.tmp", "cache/", "/srv/photos/thumbnails"]
#     schedule: "0 2 * * *"
#     retention:
#       keep-daily: 14
#       keep-monthly: unlimited
`;
