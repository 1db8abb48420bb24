import ipaddress
from pathlib import Path

from cryptography import x509

from silverguard.servers.tls import write_server_tls


def test_the_server_certificate_is_signed_by_the_ca_for_loopback_names(tmp_path: Path):
    files = write_server_tls(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert files.key_file.stat().st_mode & 0o077 == 0  # the private key is private


def test_existing_files_are_kept_so_a_restarted_broker_keeps_its_certificate(tmp_path: Path):
    first = write_server_tls(tmp_path)
    before = first.cert_file.read_bytes()
    again = write_server_tls(tmp_path)
    assert again.cert_file.read_bytes() == before
