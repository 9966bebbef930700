"""Scrubbing and matching rules of captures, on literal SOAP snippets (no server needed)."""

from __future__ import annotations

from balloon_audit.collect.capture.scrub import (
    ADDRESS_PLACEHOLDER,
    PASSWORD_PLACEHOLDER,
    SESSION_PLACEHOLDER,
    USER_PLACEHOLDER,
    Scrubber,
    endpoint_key,
    normalise_body,
    placeholder_host,
    soap_operation,
)

LOGIN_REQUEST = (
    '<soapenv:Body><Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
    '<userName versionId="8.0">administrator@vsphere.local</userName>'
    '<password versionId="8.0">p&amp;ss W0rd!</password></Login></soapenv:Body>'
)
LOGIN_RESPONSE = (
    '<soapenv:Body><LoginResponse xmlns="urn:vim25"><returnval>'
    "<key>52d1f2c0-aaaa-bbbb-cccc-0123456789ab</key>"
    "<userName>VSPHERE.LOCAL\\Administrator</userName><fullName>Ada Admin</fullName>"
    "<ipAddress>10.20.30.40</ipAddress><userAgent>pyvmomi Python/3.11 (Linux; 6.1)</userAgent>"
    "</returnval></LoginResponse></soapenv:Body>"
)
COOKIE = 'vmware_soap_session="0f3c2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"; Path=/; HttpOnly; Secure;'


def test_login_credentials_and_session_identity_are_scrubbed() -> None:
    scrubber = Scrubber(["vc01.corp.example:443"])
    scrubber.learn(LOGIN_REQUEST, {"Set-Cookie": [COOKIE]}, LOGIN_RESPONSE)
    request = scrubber.scrub_text(LOGIN_REQUEST)
    response = scrubber.scrub_text(LOGIN_RESPONSE)
    assert "administrator" not in request and "W0rd" not in request
    assert f">{USER_PLACEHOLDER}</userName>" in request
    assert f">{PASSWORD_PLACEHOLDER}</password>" in request
    for secret in ("52d1f2c0", "Administrator", "Ada Admin", "10.20.30.40", "Linux"):
        assert secret not in response
    assert f"<key>{SESSION_PLACEHOLDER}</key>" in response
    assert f"<ipAddress>{ADDRESS_PLACEHOLDER}</ipAddress>" in response


def test_password_is_removed_wherever_the_login_answer_echoes_it_also_xml_escaped() -> None:
    scrubber = Scrubber()
    scrubber.learn(LOGIN_REQUEST, {}, "")
    echoed = "<msg>login failed for p&amp;ss W0rd! and p&ss W0rd!</msg>"
    assert "W0rd" not in scrubber.scrub_text(echoed, login=True)


def test_password_never_alters_inventory_data() -> None:
    # With password DC0_C0, the cluster DC0_C0 must stay DC0_C0 outside the Login call.
    scrubber = Scrubber()
    scrubber.learn(LOGIN_REQUEST.replace("p&amp;ss W0rd!", "DC0_C0"), {}, "")
    inventory = "<val><name>DC0_C0</name></val>"
    assert scrubber.scrub_text(inventory) == inventory


def test_product_full_name_is_kept_outside_a_user_session() -> None:
    about = (
        "<about><name>VMware vCenter Server</name><fullName>VMware vCenter Server 8.0.3</fullName>"
    )
    assert Scrubber().scrub_text(about) == about


def test_session_cookie_in_headers_and_bodies() -> None:
    scrubber = Scrubber()
    scrubber.learn("", {"Set-Cookie": [COOKIE]}, "")
    scrubbed = scrubber.scrub_text(COOKIE)
    assert scrubbed.startswith(f'vmware_soap_session="{SESSION_PLACEHOLDER}"')
    assert "0f3c2b1a" not in scrubber.scrub_text("<x>0f3c2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b</x>")


def test_views_and_paging_tokens_get_stable_names() -> None:
    scrubber = Scrubber()
    view_a = "session[52aa-1111]52bb-2222"
    view_b = "session[52aa-1111]52cc-3333"
    text = f"<obj>{view_a}</obj><obj>{view_b}</obj><obj>{view_a}</obj>"
    assert scrubber.scrub_text(text) == (
        f"<obj>session[{SESSION_PLACEHOLDER}]view-1</obj>"
        f"<obj>session[{SESSION_PLACEHOLDER}]view-2</obj>"
        f"<obj>session[{SESSION_PLACEHOLDER}]view-1</obj>"
    )
    first = scrubber.scrub_text("<returnval><token>7636520f-7ea4</token>")
    again = scrubber.scrub_text('<token versionId="8.0">7636520f-7ea4</token>')
    assert first == "<returnval><token>page-1</token>"
    assert again == '<token versionId="8.0">page-1</token>'
    # scrubbing is idempotent: placeholders stay as they are
    assert scrubber.scrub_text(first) == first


def test_endpoint_names_addresses_and_ports_become_placeholders() -> None:
    scrubber = Scrubber(["vc01.corp.example", "10.1.2.3:8443", "[fd00::5]:443"])
    one, two, three = (placeholder_host(i) for i in (1, 2, 3))
    text = (
        "https://vc01.corp.example/sdk vc01.corp.example 10.1.2.3:8443 10.1.2.3 "
        "[fd00::5]:443 fd00::5 vc01.corp.example.backup not-vc01.corp.example"
    )
    assert scrubber.scrub_text(text) == (
        f"https://{one}/sdk {one} {two} {two} {three} {three} "
        "vc01.corp.example.backup not-vc01.corp.example"
    )


def test_loopback_endpoint_hides_the_recording_machines_names() -> None:
    scrubber = Scrubber(["127.0.0.1:40123"])
    endpoint = scrubber.endpoints[0]
    text = "<val>localhost.localdomain</val> localhost 127.0.0.1:40123"
    scrubbed = scrubber.scrub_text(text, endpoint)
    assert "localhost" not in scrubbed and "127.0.0.1" not in scrubbed


def test_endpoints_in_declared_order_then_first_seen() -> None:
    scrubber = Scrubber(["b.example:443", "a.example:443"])
    assert scrubber.endpoint("a.example", 443).placeholder == placeholder_host(2)
    assert scrubber.endpoint("c.example", 443).placeholder == placeholder_host(3)
    assert scrubber.endpoint("B.EXAMPLE", 443).placeholder == placeholder_host(1)
    assert scrubber.endpoint(placeholder_host(7), 443).placeholder == placeholder_host(7)


def test_endpoint_key() -> None:
    assert endpoint_key("vc01") == ("vc01", 443)
    assert endpoint_key("VC01:8443") == ("vc01", 8443)
    assert endpoint_key("[::1]:9000") == ("::1", 9000)
    assert endpoint_key("::1") == ("::1", 443)
    assert endpoint_key("user@vc01:444") == ("vc01", 444)


def test_normalised_body_ignores_per_run_values_but_not_the_question() -> None:
    base = (
        "<soapenv:Body><RetrievePropertiesEx><_this>propertyCollector</_this>"
        "<obj type='ContainerView'>session[{key}]{view}</obj><pathSet>name</pathSet>"
        "<maxObjects>{page}</maxObjects></RetrievePropertiesEx></soapenv:Body>"
    )
    one = base.format(key="aaa", view="111", page=1000)
    two = base.format(key="bbb", view="222", page=1000)
    other_page = base.format(key="aaa", view="111", page=500)
    assert normalise_body(one) == normalise_body(two)
    assert normalise_body(one) != normalise_body(other_page)
    assert normalise_body(one) != normalise_body(one.replace("name", "config.hardware.memoryMB"))
    assert normalise_body(LOGIN_REQUEST) == normalise_body(
        LOGIN_REQUEST.replace("administrator@vsphere.local", "other")
    )
    tokens = ["<token>abc</token>", '<token versionId="8.0">page-3</token>']
    assert normalise_body(tokens[0]) == "<token>*</token>"
    assert normalise_body(tokens[1]) == '<token versionId="8.0">*</token>'
    assert soap_operation(one) == "RetrievePropertiesEx"
    assert soap_operation(None) == ""
