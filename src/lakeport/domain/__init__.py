"""Pure logic, no I/O: states, schema rules, access rules. Imports nothing else from lakeport."""
