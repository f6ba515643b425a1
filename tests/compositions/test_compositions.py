"""Every SCIA Composition rendered with kcl_lib as function-kcl would run it.

The programs are taken from the committed Composition YAMLs (what Crossplane will run), fed an
XR as option("params").oxr and, where a resource depends on cloud-assigned values, observed
composed resources as option("params").ocds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compositions.conftest import REGIONS, ROOT, build, make_xr

ALL = [(s.cloud, s.strategy) for s in build.COMPOSITIONS]
EXAMPLE_XRS = sorted((ROOT / "examples" / "infrastructure").glob("*.yaml"))
# Kinds whose cloud API has no tags/labels; ownership is on their Kubernetes labels only.
UNTAGGED = {
    "Route", "RouteTableAssociation", "RolePolicyAttachment", "Attachment", "Policy", "Integration", "ClusterAuth",
    "APIMapping", "Permission", "Alias", "ProvisionedConcurrencyConfig", "Dashboard",
    "Network", "Subnetwork", "Firewall", "ServiceAccount", "HealthCheck", "RegionInstanceGroupManager", "RegionAutoscaler",
    "BackendService", "URLMap", "TargetHTTPProxy", "TargetHTTPSProxy", "ManagedSSLCertificate", "AlertPolicy", "NodePool",
    "Subnet", "SubnetNetworkSecurityGroupAssociation", "NetworkSecurityRule", "LoadBalancerBackendAddressPool",
    "LoadBalancerProbe", "LoadBalancerRule", "LoadBalancerOutboundRule",
}
OWNER_TAGS = {"aws": ("managed-by", "scia.io/team", "scia.io/deployment"), "azure": ("managed-by", "scia.io_team", "scia.io_deployment"), "gcp": ("managed-by", "scia_io_team", "scia_io_deployment")}


def _cloud_tags(resource: dict) -> dict | None:
    fp = resource["spec"]["forProvider"]
    for key in ("tags", "labels", "resourceLabels", "userLabels"):
        if isinstance(fp.get(key), dict):
            return fp[key]
    if isinstance(fp.get("tag"), list):  # AutoscalingGroup
        return {t["key"]: t["value"] for t in fp["tag"]}
    return None


# --- the Composition objects ----------------------------------------------------------------------

def test_committed_compositions_are_up_to_date():
    stale = [s.path.name for s in build.COMPOSITIONS if not s.path.exists() or s.path.read_text() != build.dump(s)]
    assert stale == [], f"run python compositions/build.py: {stale}"


def test_build_check_reports_stale_yaml(tmp_path, monkeypatch):
    spec = build.COMPOSITIONS[0]
    copy = tmp_path / spec.path.name
    copy.write_text(spec.path.read_text().replace("scia.io/version: v1", "scia.io/version: v0"))
    monkeypatch.setattr(type(spec), "path", property(lambda self: tmp_path / f"{self.name}.yaml"))
    for other in build.COMPOSITIONS[1:]:
        (tmp_path / f"{other.name}.yaml").write_text(build.dump(other))
    assert build.main(["--check"]) == 1
    copy.write_text(build.dump(spec))
    assert build.main(["--check"]) == 0


def test_required_compositions_exist():
    assert {("aws", "vm"), ("aws", "kubernetes"), ("aws", "serverless"), ("gcp", "vm"), ("gcp", "kubernetes"), ("azure", "vm"), ("azure", "kubernetes")} <= set(ALL)


@pytest.mark.parametrize("spec", build.COMPOSITIONS, ids=lambda s: s.name)
def test_composition_shape(spec, compositions):
    comp = compositions[spec.name]
    assert comp["apiVersion"] == "apiextensions.crossplane.io/v1" and comp["kind"] == "Composition"
    assert comp["metadata"]["name"] == spec.name and spec.name.endswith(f"-v{spec.version}")
    labels = comp["metadata"]["labels"]
    assert labels["scia.io/cloud"] == spec.cloud and labels["scia.io/strategy"] == spec.strategy and labels["scia.io/version"] == f"v{spec.version}"
    assert comp["spec"]["compositeTypeRef"] == {"apiVersion": "scia.io/v1alpha1", "kind": "Infrastructure"}
    assert comp["spec"]["mode"] == "Pipeline"
    render_step, ready_step = comp["spec"]["pipeline"]
    assert render_step["functionRef"]["name"] == "function-kcl"
    assert render_step["input"]["apiVersion"] == "krm.kcl.dev/v1alpha1" and render_step["input"]["kind"] == "KCLInput"
    assert render_step["input"]["spec"]["source"] == build.source_for(spec)
    assert ready_step["functionRef"]["name"] == "function-auto-ready"


def test_functions_manifest_names_the_pipeline_functions(compositions):
    functions = {d["metadata"]["name"] for d in yaml.safe_load_all((ROOT / "compositions" / "functions.yaml").read_text())}
    used = {step["functionRef"]["name"] for c in compositions.values() for step in c["spec"]["pipeline"]}
    assert used == functions


# --- properties every render must have ------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLE_XRS, ids=lambda p: p.stem)
def test_example_xr_renders_with_ownership_region_and_stable_names(path: Path, render):
    xr = yaml.safe_load(path.read_text())
    params = xr["spec"]["parameters"]
    cloud, strategy = params["cloud"], params["strategy"]
    out = render(cloud, strategy, xr)
    again = render(cloud, strategy, yaml.safe_load(path.read_text()))
    assert out == again, "two renders of the same XR differ"
    names = out.names()
    assert len(names) == len(set(names)), "composition-resource-name annotations are not unique"
    assert out.xr_status["resourceCount"] == len(out.managed)
    assert out.xr_status["composition"] == build.find(cloud, strategy).name
    for resource in out.managed:
        meta, spec = resource["metadata"], resource["spec"]
        assert meta["namespace"] == xr["metadata"]["namespace"]
        assert ".m.upbound.io/" in resource["apiVersion"], resource["apiVersion"]
        assert meta["labels"]["managed-by"] == "scia"
        assert meta["labels"]["scia.io/team"] == params["team"] and meta["labels"]["scia.io/deployment"] == params["deploymentName"]
        assert spec["providerConfigRef"] == {"kind": "ProviderConfig", "name": params["providerConfigName"]}
        tags = _cloud_tags(resource)
        if resource["kind"] not in UNTAGGED:
            assert tags is not None, f"{resource['kind']} {meta['annotations']} has no cloud tags"
        if tags is not None:
            for key in OWNER_TAGS[cloud]:
                assert key in tags, (resource["kind"], key)
            assert tags[OWNER_TAGS[cloud][1]] == params["team"]
            for key in params.get("tags", {}):
                assert any(key.replace("/", "_") in k for k in tags), (resource["kind"], key)
        fp = spec["forProvider"]
        for field in ("region", "location"):
            if field in fp:
                assert fp[field] == params["region"] or fp[field].startswith(params["region"] + "-"), (resource["kind"], fp[field])
        if cloud == "aws" and resource["apiVersion"].split(".")[0] not in {"iam"}:
            assert fp["region"] == params["region"], resource["kind"]


@pytest.mark.parametrize(("cloud", "strategy"), ALL)
def test_minimal_xr_renders(cloud, strategy, render):
    out = render(cloud, strategy)
    assert out.managed and out.xr_status["composition"].startswith(f"{cloud}-{strategy}-")


@pytest.mark.parametrize(("cloud", "strategy"), ALL)
def test_region_is_propagated(cloud, strategy, render):
    region = {"aws": "us-west-2", "gcp": "us-central1", "azure": "northeurope"}[cloud]
    out = render(cloud, strategy, region=region)
    regional = [r["spec"]["forProvider"].get("region") or r["spec"]["forProvider"].get("location") or r["spec"]["forProvider"].get("zone") for r in out.managed]
    assert any(regional)
    assert all(v.startswith(region) for v in regional if v), regional


@pytest.mark.parametrize(("cloud", "strategy"), ALL)
def test_names_do_not_depend_on_sizes(cloud, strategy, render):
    """Scaling must not rename (and so replace) what already exists."""
    small = render(cloud, strategy)
    bigger = {"vm": {"instanceCount": 1, "volumeSizeGb": 40}, "kubernetes": {"maxNodes": 3, "nodeVolumeSizeGb": 80}, "serverless": {"memoryMb": 1024}}[strategy]
    big = render(cloud, strategy, **{strategy: bigger})
    assert small.names() == big.names()
    cloud_names = lambda out: [r["spec"]["forProvider"].get("name") for r in out.managed]  # noqa: E731
    assert cloud_names(small) == cloud_names(big)


@pytest.mark.parametrize(("cloud", "strategy"), ALL)
def test_wrong_cloud_or_strategy_is_refused(cloud, strategy, render):
    other_cloud = "gcp" if cloud != "gcp" else "aws"
    xr = make_xr(cloud, strategy)
    xr["spec"]["parameters"]["cloud"] = other_cloud
    with pytest.raises(build.RenderError, match=f"renders cloud '{cloud}' but spec.parameters.cloud is '{other_cloud}'"):
        render(cloud, strategy, xr)
    xr = make_xr(cloud, strategy)
    xr["spec"]["parameters"]["strategy"] = "serverless" if strategy != "serverless" else "vm"
    with pytest.raises(build.RenderError, match="select a composition labelled scia.io/strategy="):
        render(cloud, strategy, xr)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"region": None}, "spec.parameters.region must be a region name"),
        ({"region": "EU-West"}, "spec.parameters.region must be a region name"),
        ({"team": "Team_A"}, "spec.parameters.team must be a DNS label"),
        ({"deploymentName": None}, "spec.parameters.deploymentName must be a DNS label"),
        ({"appPort": 0}, "spec.parameters.appPort must be in 1..65535"),
        ({"healthCheckPath": "healthz"}, "healthCheckPath must start with '/'"),
    ],
)
def test_bad_common_parameters(overrides, message, render):
    with pytest.raises(build.RenderError, match=message.replace(".", r"\.")):
        render("aws", "vm", **overrides)


# --- aws-vm ---------------------------------------------------------------------------------------

def test_aws_vm_single_instance_has_no_load_balancer(render):
    out = render("aws", "vm", vm={"instanceCount": 1})
    assert out.count("Instance") == 1 and out.count("EIP") == 1
    assert out.count("AutoscalingGroup") == 0 and out.count("LB") == 0 and out.count("Certificate") == 0
    assert out.count("Subnet") == 1 and out.xr_status["zones"] == ["eu-west-3a"]
    assert out.fp("app-sg-public")["fromPort"] == 5000 and out.fp("app-sg-public")["cidrIpv4"] == "0.0.0.0/0"
    assert out.xr_status["loadBalanced"] is False


def test_aws_vm_three_instances_spread_over_zones_behind_a_load_balancer(render):
    out = render("aws", "vm", vm={"instanceCount": 3})
    assert out.count("Instance") == 0 and out.count("EIP") == 0
    asg = out.fp("autoscaling-group")
    assert (asg["minSize"], asg["desiredCapacity"], asg["maxSize"]) == (3, 3, 3)
    assert asg["vpcZoneIdentifierSelector"]["matchLabels"] == {"scia.io/network": "public-subnet"}
    assert {out.fp(f"subnet-{i}")["availabilityZone"] for i in range(3)} == {"eu-west-3a", "eu-west-3b", "eu-west-3c"}
    assert all(out.get(f"subnet-{i}")["metadata"]["labels"]["scia.io/network"] == "public-subnet" for i in range(3))
    assert out.count("LB") == 1 and out.count("LBTargetGroup") == 1 and out.count("LBListener") == 1
    assert out.fp("target-group")["port"] == 5000
    # Instances accept traffic from the load balancer only.
    assert not out.has("app-sg-public")
    assert out.fp("app-sg-from-lb")["referencedSecurityGroupIdSelector"]["matchLabels"] == {"scia.io/resource": "lb-sg"}
    assert not out.has("autoscaling-policy-cpu")  # min == max: nothing to scale


def test_aws_vm_scaling_range_adds_a_target_tracking_policy(render):
    out = render("aws", "vm", vm={"instanceCount": 2, "minCount": 2, "maxCount": 6})
    assert out.fp("autoscaling-group")["maxSize"] == 6
    assert out.fp("autoscaling-policy-cpu")["targetTrackingConfiguration"]["targetValue"] == 60
    assert len(out.xr_status["zones"]) == 3


def test_aws_vm_explicit_zones_win(render):
    out = render("aws", "vm", vm={"instanceCount": 2, "zones": ["ap-northeast-1a", "ap-northeast-1c"]}, region="ap-northeast-1")
    assert [out.fp(f"subnet-{i}")["availabilityZone"] for i in range(2)] == ["ap-northeast-1a", "ap-northeast-1c"]


def test_aws_vm_https_adds_certificate_and_listener(render):
    plain = render("aws", "vm", vm={"instanceCount": 2})
    secure = render("aws", "vm", vm={"instanceCount": 2}, https=True, domainName="shop.example.com")
    assert not plain.has("certificate") and not plain.has("listener-https") and not plain.has("lb-sg-https")
    assert plain.fp("listener-http")["defaultAction"][0]["type"] == "forward"
    assert secure.fp("certificate")["domainName"] == "shop.example.com"
    assert secure.fp("certificate")["validationMethod"] == "DNS"
    https = secure.fp("listener-https")
    assert https["port"] == 443 and https["protocol"] == "HTTPS" and https["certificateArnSelector"]["matchLabels"] == {"scia.io/resource": "certificate"}
    assert secure.fp("listener-http")["defaultAction"][0]["redirect"]["protocol"] == "HTTPS"
    assert secure.fp("lb-sg-https")["fromPort"] == 443


def test_aws_vm_https_alone_puts_one_instance_behind_the_alb(render):
    out = render("aws", "vm", https=True, domainName="shop.example.com")
    assert out.count("LB") == 1 and out.fp("autoscaling-group")["desiredCapacity"] == 1
    assert len(out.xr_status["zones"]) == 2  # an ALB needs two zones


def test_aws_vm_https_needs_a_domain(render):
    with pytest.raises(build.RenderError, match="needs spec.parameters.domainName"):
        render("aws", "vm", https=True)


def test_aws_vm_monitoring_on_and_off(render):
    off = render("aws", "vm", vm={"instanceCount": 2})
    on = render("aws", "vm", vm={"instanceCount": 2}, monitoring=True)
    assert off.count("MetricAlarm") == 0 and off.count("Dashboard") == 0 and off.count("Topic") == 0
    assert not off.has("instance-role-cloudwatch")
    assert on.count("Topic") == 1 and on.count("Dashboard") == 1 and on.has("instance-role-cloudwatch")
    alarm = on.fp("alarm-cpu-high")
    assert alarm["dimensions"] == {"AutoScalingGroupName": on.fp("autoscaling-group")["name"]}
    assert alarm["alarmActionsSelector"]["matchLabels"] == {"scia.io/resource": "alarm-topic"}
    assert on.fp("launch-template")["monitoring"] == {"enabled": True}
    # Load-balancer alarms wait for the ARN suffix AWS assigns.
    assert not on.has("alarm-5xx")
    observed = {"load-balancer": {"status": {"atProvider": {"arnSuffix": "app/lb/1", "dnsName": "lb-1.eu-west-3.elb.amazonaws.com"}}},
                "target-group": {"status": {"atProvider": {"arnSuffix": "targetgroup/tg/2"}}}}
    later = render("aws", "vm", observed=observed, vm={"instanceCount": 2}, monitoring=True)
    assert later.fp("alarm-5xx")["dimensions"] == {"LoadBalancer": "app/lb/1"}
    assert later.fp("alarm-unhealthy-hosts")["dimensions"] == {"LoadBalancer": "app/lb/1", "TargetGroup": "targetgroup/tg/2"}
    assert later.xr_status["endpoint"] == "lb-1.eu-west-3.elb.amazonaws.com"
    assert later.xr_status["url"] == "http://lb-1.eu-west-3.elb.amazonaws.com"


def test_aws_vm_endpoint_of_a_single_instance(render):
    assert "endpoint" not in render("aws", "vm").xr_status
    out = render("aws", "vm", observed={"elastic-ip": {"status": {"atProvider": {"publicIp": "203.0.113.7"}}}})
    assert out.xr_status["endpoint"] == "203.0.113.7" and out.xr_status["url"] == "http://203.0.113.7:5000"


def test_aws_vm_launch_template(render):
    import base64

    lt = render("aws", "vm", vm={"volumeSizeGb": 40}).fp("launch-template")
    assert lt["instanceType"] == "t3.small" and lt["imageId"].endswith("x86_64")
    assert lt["blockDeviceMappings"][0]["ebs"] == {"volumeSize": 40, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    assert lt["metadataOptions"]["httpTokens"] == "required"
    script = base64.b64decode(lt["userData"]).decode()
    assert "git clone --depth 1 https://github.com/acme/shop.git /opt/app" in script
    assert "ExecStart=/bin/sh -c 'gunicorn app:app'" in script and "PORT=5000" in script
    assert render("aws", "vm", vm={"instanceType": "t4g.small"}).fp("launch-template")["imageId"].endswith("arm64")
    image = base64.b64decode(render("aws", "vm", image="ghcr.io/acme/shop:1.2").fp("launch-template")["userData"]).decode()
    assert "docker run" in image and "ghcr.io/acme/shop:1.2" in image and "git clone" not in image


def test_aws_vm_managed_services(render):
    out = render("aws", "vm", managedServices=[{"kind": "postgres", "instanceClass": "db.t4g.small", "storageGb": 50, "highAvailability": True}, {"kind": "redis"}])
    db = out.fp("postgres-0")
    assert (db["engine"], db["instanceClass"], db["allocatedStorage"], db["multiAz"], db["storageEncrypted"]) == ("postgres", "db.t4g.small", 50, True, True)
    assert db["manageMasterUserPassword"] is True and db["publiclyAccessible"] is False
    assert out.fp("postgres-0-ingress")["fromPort"] == 5432
    assert out.fp("postgres-0-ingress")["referencedSecurityGroupIdSelector"]["matchLabels"] == {"scia.io/resource": "app-sg"}
    assert out.fp("redis-1")["numCacheClusters"] == 1 and out.fp("redis-1")["transitEncryptionEnabled"] is True
    assert out.count("Subnet") == 2  # subnet groups need two zones


@pytest.mark.parametrize(
    ("vm", "message"),
    [
        ({"instanceType": "small"}, "must be an EC2 instance type"),
        ({"instanceCount": 3, "maxCount": 2}, "minCount <= instanceCount <= maxCount"),
        ({"instanceCount": 2, "minCount": 3}, "minCount <= instanceCount <= maxCount"),
        ({"instanceCount": 101, "maxCount": 101}, "instanceCount must be in 1..100"),
        ({"volumeSizeGb": 4}, "volumeSizeGb must be in 8..16384"),
        ({"instanceCount": 2, "zones": ["eu-west-3a"]}, "needs at least two zones"),
    ],
)
def test_aws_vm_bad_parameters(vm, message, render):
    with pytest.raises(build.RenderError, match=message):
        render("aws", "vm", vm=vm)


def test_vm_needs_something_to_run(render):
    with pytest.raises(build.RenderError, match="needs either spec.parameters.image or both"):
        render("aws", "vm", startCommand=None)


# --- aws-kubernetes -------------------------------------------------------------------------------

def test_aws_kubernetes_cluster_and_node_group(render):
    out = render("aws", "kubernetes", kubernetes={"minNodes": 2, "maxNodes": 5, "desiredNodes": 3, "nodeVolumeSizeGb": 80})
    assert out.count("Cluster") == 1 and out.count("NodeGroup") == 1 and out.count("Key") == 1
    ng = out.get("node-group")["spec"]
    assert ng["forProvider"]["scalingConfig"] == {"minSize": 2, "maxSize": 5}
    assert ng["initProvider"]["scalingConfig"] == {"desiredSize": 3}
    assert ng["forProvider"]["instanceTypes"] == ["t3.medium"] and ng["forProvider"]["diskSize"] == 80
    assert out.count("Subnet") == 3 and all(out.fp(f"subnet-{i}")["tags"]["kubernetes.io/role/elb"] == "1" for i in range(3))
    cluster = out.get("cluster")
    assert cluster["metadata"]["annotations"]["crossplane.io/external-name"] == out.xr_status["clusterName"]
    assert cluster["spec"]["forProvider"]["encryptionConfig"]["resources"] == ["secrets"]
    assert out.get("cluster-auth")["spec"]["writeConnectionSecretToRef"] == {"name": "shop-api-r1-kubeconfig"}
    assert out.xr_status["kubeconfigSecretName"] == "shop-api-r1-kubeconfig"
    assert out.xr_status["workload"] == {"replicas": 2, "podCpuMillicores": 250, "podMemoryMb": 512, "appPort": 5000}
    assert {r["spec"]["forProvider"]["policyArn"].rsplit("/", 1)[1] for r in out.managed if r["kind"] == "RolePolicyAttachment"} >= {
        "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}


def test_aws_kubernetes_always_spans_two_zones(render):
    out = render("aws", "kubernetes", kubernetes={"minNodes": 1, "maxNodes": 1, "desiredNodes": 1})
    assert len(out.xr_status["zones"]) == 2


def test_aws_kubernetes_monitoring(render):
    off, on = render("aws", "kubernetes"), render("aws", "kubernetes", monitoring=True)
    assert off.fp("cluster")["enabledClusterLogTypes"] == [] and not off.has("addon-cloudwatch") and off.count("MetricAlarm") == 0
    assert on.fp("cluster")["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert on.fp("addon-cloudwatch")["addonName"] == "amazon-cloudwatch-observability"
    assert on.fp("alarm-failed-nodes")["dimensions"] == {"ClusterName": on.xr_status["clusterName"]}


def test_aws_kubernetes_https_certificate_and_validation_records(render):
    observed = {"certificate": {"status": {"atProvider": {"arn": "arn:aws:acm:eu-west-3:1:certificate/c", "domainValidationOptions": [
        {"resourceRecordName": "_a.shop.example.com.", "resourceRecordType": "CNAME", "resourceRecordValue": "_b.acm-validations.aws."}]}}}}
    out = render("aws", "kubernetes", observed=observed, https=True, domainName="shop.example.com")
    assert out.fp("certificate")["domainName"] == "shop.example.com"
    assert out.xr_status["certificateArn"] == "arn:aws:acm:eu-west-3:1:certificate/c"
    assert out.xr_status["certificateValidation"] == [{"name": "_a.shop.example.com.", "type": "CNAME", "value": "_b.acm-validations.aws."}]


def test_aws_kubernetes_bad_sizes(render):
    with pytest.raises(build.RenderError, match="1 <= minNodes <= desiredNodes <= maxNodes, got 3 <= 2 <= 5"):
        render("aws", "kubernetes", kubernetes={"minNodes": 3, "desiredNodes": 2, "maxNodes": 5})


# --- aws-serverless -------------------------------------------------------------------------------

def test_aws_serverless_function_and_api(render):
    out = render("aws", "serverless", serverless={"memoryMb": 1024, "timeoutSeconds": 60})
    fn = out.fp("function")
    assert (fn["memorySize"], fn["timeout"], fn["packageType"], fn["imageUri"]) == (1024, 60, "Image", "123456789012.dkr.ecr.eu-west-3.amazonaws.com/shop:1.0")
    assert fn["environment"]["variables"]["PORT"] == "5000"
    assert out.fp("log-group")["name"] == f"/aws/lambda/{out.xr_status['functionName']}"
    assert out.fp("api")["protocolType"] == "HTTP" and out.fp("route-default")["routeKey"] == "$default"
    assert out.fp("integration")["integrationType"] == "AWS_PROXY" and out.fp("integration")["timeoutMilliseconds"] == 30000
    assert not out.has("invoke-permission") and not out.has("function-alias") and not out.has("certificate")


def test_aws_serverless_zip_code_through_the_web_adapter(render):
    out = render("aws", "serverless", image=None, framework="fastapi", serverless={"codeS3Bucket": "team-a-artifacts", "codeS3Key": "shop/1.zip"})
    fn = out.fp("function")
    assert (fn["packageType"], fn["runtime"], fn["handler"], fn["s3Bucket"]) == ("Zip", "python3.12", "run.sh", "team-a-artifacts")
    assert fn["layers"][0].startswith("arn:aws:lambda:eu-west-3:753240598075:layer:LambdaAdapterLayerX86:")
    assert fn["environment"]["variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"


def test_aws_serverless_observed_values(render):
    observed = {
        "api": {"status": {"atProvider": {"executionArn": "arn:aws:execute-api:eu-west-3:1:abc", "apiEndpoint": "https://abc.execute-api.eu-west-3.amazonaws.com", "id": "abc"}}},
        "function": {"status": {"atProvider": {"version": "7"}}},
        "function-alias": {"status": {"atProvider": {"invokeArn": "arn:aws:apigateway:eu-west-3:lambda:path/fn:live/invocations"}}},
    }
    out = render("aws", "serverless", observed=observed, serverless={"provisionedConcurrency": 3}, monitoring=True)
    assert out.fp("invoke-permission")["sourceArn"] == "arn:aws:execute-api:eu-west-3:1:abc/*/*"
    assert out.fp("function-alias")["functionVersion"] == "7"
    assert out.fp("provisioned-concurrency")["provisionedConcurrentExecutions"] == 3
    assert out.fp("integration")["integrationUri"].endswith(":live/invocations")
    assert out.xr_status["url"] == "https://abc.execute-api.eu-west-3.amazonaws.com"
    assert out.count("MetricAlarm") == 3 and out.fp("alarm-duration")["threshold"] == 24000


def test_aws_serverless_custom_domain(render):
    plain = render("aws", "serverless", https=True)  # the API's own endpoint is already HTTPS
    assert not plain.has("certificate") and not plain.has("domain-name")
    custom = render("aws", "serverless", https=True, domainName="api.example.com")
    assert custom.fp("domain-name")["domainName"] == "api.example.com" and custom.has("api-mapping") and custom.has("certificate")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"serverless": {"memoryMb": 64}}, r"memoryMb must be in 128\.\.10240 \(Lambda limits\), got 64"),
        ({"serverless": {"memoryMb": 10241}}, r"memoryMb must be in 128\.\.10240"),
        ({"serverless": {"timeoutSeconds": 901}}, r"timeoutSeconds must be in 1\.\.900"),
        ({"image": None}, "serverless on AWS needs code"),
        ({"image": "ghcr.io/acme/shop:1"}, "Lambda runs images from ECR only"),
        ({"managedServices": [{"kind": "postgres"}]}, "does not create managed services"),
    ],
)
def test_aws_serverless_bad_parameters(overrides, message, render):
    with pytest.raises(build.RenderError, match=message):
        render("aws", "serverless", **overrides)


# --- gcp ------------------------------------------------------------------------------------------

def test_gcp_vm_single_instance(render):
    out = render("gcp", "vm")
    assert out.count("Instance") == 1 and out.count("RegionInstanceGroupManager") == 0 and out.count("GlobalForwardingRule") == 0
    assert out.fp("instance")["zone"] == "europe-west1-b"
    assert out.fp("firewall-app")["sourceRanges"] == ["0.0.0.0/0"]


def test_gcp_vm_group_behind_a_load_balancer(render):
    out = render("gcp", "vm", vm={"instanceCount": 3, "maxCount": 6})
    mig = out.fp("instance-group-manager")
    assert mig["targetSize"] == 3 and mig["distributionPolicyZones"] == ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
    assert out.fp("autoscaler")["autoscalingPolicy"]["maxReplicas"] == 6
    assert out.fp("firewall-app")["sourceRanges"] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert out.count("GlobalForwardingRule") == 1 and not out.has("certificate")
    secure = render("gcp", "vm", vm={"instanceCount": 3}, https=True, domainName="shop.example.com")
    assert secure.fp("certificate")["managed"] == {"domains": ["shop.example.com"]}
    assert secure.count("GlobalForwardingRule") == 2 and secure.fp("forwarding-rule-https")["portRange"] == "443"


def test_gcp_labels_are_sanitised(render):
    out = render("gcp", "vm", tags={"Cost-Center": "CC/42"})
    labels = out.fp("instance")["labels"]
    assert labels == {"cost-center": "cc_42", "managed-by": "scia", "scia_io_team": "team-a", "scia_io_deployment": "shop-api"}


def test_gcp_kubernetes_regional_when_ha(render):
    ha = render("gcp", "kubernetes", kubernetes={"minNodes": 3, "maxNodes": 9, "desiredNodes": 3})
    assert ha.fp("cluster")["location"] == "europe-west1" and ha.fp("cluster")["removeDefaultNodePool"] is True
    pool = ha.fp("node-pool")
    assert pool["autoscaling"] == {"totalMinNodeCount": 3, "totalMaxNodeCount": 9, "locationPolicy": "BALANCED"}
    assert pool["initialNodeCount"] == 1 and pool["nodeConfig"]["machineType"] == "e2-standard-2"
    single = render("gcp", "kubernetes", kubernetes={"minNodes": 1, "desiredNodes": 1})
    assert single.fp("cluster")["location"] == "europe-west1-b" and single.xr_status["zones"] == ["europe-west1-b"]
    assert render("gcp", "kubernetes", monitoring=True).count("AlertPolicy") == 2


def test_gcp_refuses_what_v1_does_not_build(render):
    with pytest.raises(build.RenderError, match="does not create managed services yet"):
        render("gcp", "vm", managedServices=[{"kind": "postgres"}])
    with pytest.raises(build.RenderError, match="does not terminate HTTPS"):
        render("gcp", "kubernetes", https=True, domainName="a.example.com")
    with pytest.raises(build.RenderError, match="must be a Compute Engine machine type"):
        render("gcp", "vm", vm={"instanceType": "t3.small"})


# --- azure ----------------------------------------------------------------------------------------

def test_azure_vm_single_and_load_balanced(render):
    single = render("azure", "vm")
    vmss = single.fp("scale-set")
    assert vmss["instances"] == 1 and vmss["zones"] == [] and single.count("LoadBalancer") == 0
    assert vmss["disablePasswordAuthentication"] is True and vmss["adminSshKey"][0]["publicKey"].startswith("ssh-rsa ")
    ha = render("azure", "vm", vm={"instanceCount": 3})
    vmss = ha.fp("scale-set")
    assert vmss["instances"] == 3 and vmss["zones"] == ["1", "2", "3"] and vmss["zoneBalance"] is True
    assert vmss["upgradeMode"] == "Rolling" and ha.count("LoadBalancer") == 1 and ha.fp("lb-rule-http")["backendPort"] == 5000
    assert ha.fp("resource-group")["tags"]["scia.io_team"] == "team-a"


def test_azure_vm_autoscale_and_monitoring(render):
    out = render("azure", "vm", vm={"instanceCount": 2, "maxCount": 5}, monitoring=True)
    assert out.fp("autoscale")["profile"][0]["capacity"] == {"default": 2, "minimum": 2, "maximum": 5}
    assert out.get("scale-set")["spec"]["initProvider"] == {"instances": 2}
    assert out.has("action-group") and out.has("alert-cpu-high")


def test_azure_vm_refusals(render):
    with pytest.raises(build.RenderError, match="need an RSA SSH public key"):
        render("azure", "vm", sshPublicKey=None)
    with pytest.raises(build.RenderError, match="does not terminate HTTPS"):
        render("azure", "vm", https=True, domainName="a.example.com")


def test_azure_kubernetes(render):
    out = render("azure", "kubernetes", kubernetes={"minNodes": 2, "maxNodes": 6, "desiredNodes": 3}, monitoring=True)
    cluster, pool = out.fp("cluster"), out.fp("node-pool")
    assert cluster["defaultNodePool"]["zones"] == ["1", "2", "3"] and cluster["defaultNodePool"]["onlyCriticalAddonsEnabled"] is True
    assert cluster["omsAgent"]["logAnalyticsWorkspaceIdSelector"]["matchLabels"] == {"scia.io/resource": "log-analytics"}
    assert (pool["minCount"], pool["maxCount"], pool["autoScalingEnabled"], pool["vmSize"]) == (2, 6, True, "Standard_D2s_v5")
    assert out.get("node-pool")["spec"]["initProvider"] == {"nodeCount": 3}
    small = render("azure", "kubernetes")
    assert small.fp("cluster")["skuTier"] == "Free" and small.fp("node-pool")["zones"] == [] and not small.has("log-analytics")
