"""Models of the real components around Portico, for the demo, the benchmarks and tests.

Each model follows a real program and names the function it follows in a comment:
  opennds.py  openNDS 11 (openNDS/openNDS, src/): its client table, ndsctl, the gateway's HTTP
              answers (FAS level 1 redirect, levels 2/3 encrypted, /opennds_auth/, the
              authenticated branch), and the binauth race that refuses good grants by accident;
  authmon.py  openNDS's authmon daemon (forward_authentication_service/libs/authmon.sh), which
              polls the portal for grants at FAS level 3;
  agent.py    our router agent (firmware-scripts/files/usr/sbin/portico-agent): the MQTT
              contract's checks and its ndsctl retries;
  router.py   a router running both, on the real broker and a real HTTP port;
  probes.py   how phones, laptops and appliances send 802.11 probe requests (burst sizes,
              sequence numbers, MAC randomisation, information elements), fitted to the real
              Brno captures (docs/footfall-simulation.md);
  shoppers.py a store's shoppers, passers-by, staff and fixed devices over days, with the
              ground truth (visits, occupancy) beside the radio they make;
  presence.py the probe and station telemetry an agent with a monitor interface would send;
  pcap_writer.py  pcap files (linktype 127, radiotap) of those frames.
Tests of the real agent run the shell script itself (tests/firmware, tests/e2e); the models are
checked against the same expectations there (tests/simulators).
"""
