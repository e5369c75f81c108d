from django.core.management.base import BaseCommand

from rewards.vendor_simulator import VendorSimulator


class Command(BaseCommand):
    help = "Run the simulated voucher vendor on loopback (see rewards/vendor_simulator.py)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--script", nargs="*", default=[], help="outcomes for the next calls")
        parser.add_argument("--default", default="ok")

    def handle(self, *args, **opts):
        simulator = VendorSimulator(port=opts["port"])
        simulator.script(*opts["script"], default=opts["default"])
        self.stdout.write(f"Simulated vendor on {simulator.url} (POST /vouchers, /_control)")
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            simulator.stop()
