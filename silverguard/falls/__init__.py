"""Fall detection measured on recordings: dataset reading and the evaluation that runs
the band's firmware step and the gateway's fall rule over them."""
