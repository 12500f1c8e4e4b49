"""The bodies of the CLI's verbs: each loads its inputs, calls the domain modules, writes outputs.

Here, below the CLI and above everything else, so the domain modules never import the wiring.
"""
